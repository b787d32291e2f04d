/**
 * Timeout internals shared by `Timeout.timeout` and `resilient(...)`.
 *
 * @internal
 */
import type { Duration } from "effect"
import { Effect } from "effect"
import { TimeoutError } from "../Errors.ts"

/**
 * `timeout` with the duration already decoded, for callers that apply the
 * same duration on every call.
 *
 * @internal
 */
export const timeoutDecoded = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  duration: Duration.Duration
): Effect.Effect<A, E | TimeoutError, R> =>
  // `timeoutOrElse` races `self` in a child fiber against a sleep and, when
  // the sleep wins, interrupts the child and waits for it to finish before
  // `orElse` runs: that wait is what guarantees the finalizers ran.
  Effect.timeoutOrElse(self, {
    duration,
    orElse: () => Effect.fail(new TimeoutError({ duration }))
  })
