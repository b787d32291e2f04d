/**
 * Timeout with a typed error.
 *
 * On expiry the work is *interrupted*, not abandoned: its finalizers
 * (`Effect.ensuring`, `Effect.onInterrupt`, scope closers, an `AbortSignal`
 * given to `fetch` by the HTTP client) have all run by the time the
 * {@link TimeoutError} is observed, so a timed-out request does not keep a
 * socket or a pool connection behind the caller's back.
 *
 * @since 0.0.0
 */
import type { Effect } from "effect"
import { Duration } from "effect"
import { dual } from "effect/Function"
import type { TimeoutError } from "./Errors.ts"
import { timeoutDecoded } from "./internal/timeout.ts"

/**
 * Fails with {@link TimeoutError} if `self` does not complete within
 * `duration` (measured on the Effect `Clock`), after interrupting it.
 *
 * @example
 * ```ts
 * const stock = getStock(sku).pipe(Timeout.timeout("2 seconds"))
 * ```
 *
 * @since 0.0.0
 * @category combinators
 */
export const timeout: {
  (duration: Duration.Input): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | TimeoutError, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, duration: Duration.Input): Effect.Effect<A, E | TimeoutError, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, duration: Duration.Input): Effect.Effect<A, E | TimeoutError, R> =>
    timeoutDecoded(self, Duration.fromInputUnsafe(duration))
)
