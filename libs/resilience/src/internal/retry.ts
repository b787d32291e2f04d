/**
 * The retry loop behind `RetryPolicy.retry` and `resilient(...)`.
 *
 * @internal
 */
import { Clock, Duration, Effect, Fiber, Random } from "effect"
import * as Classify from "../Classify.ts"
import type { RetryPolicy } from "../RetryPolicy.ts"

/** @internal */
export const delayBoundMillis = (policy: RetryPolicy, retry: number): number =>
  Math.min(Duration.toMillis(policy.maxDelay), Duration.toMillis(policy.baseDelay) * 2 ** (retry - 1))

/**
 * Decides what to do after attempt number `attempt` (1-based) failed with
 * `error`: the delay in milliseconds before the next attempt, or `-1` to give
 * up and return the failure.
 *
 * @internal
 */
export const nextDelayMillis = (
  policy: RetryPolicy,
  error: unknown,
  request: Classify.RequestInfo | undefined,
  attempt: number,
  elapsedMillis: number,
  nowMillis: number,
  random: number
): number => {
  if (attempt >= policy.maxAttempts || !policy.isRetryable(error, request)) return -1
  let delay = -1
  if (policy.honorRetryAfter) {
    const header = Classify.retryAfterOf(error)
    if (header !== undefined) {
      const requested = Classify.parseRetryAfter(header, nowMillis)
      if (requested !== undefined) {
        if (requested > Duration.toMillis(policy.maxDelay)) return -1
        delay = requested
      }
    }
  }
  if (delay < 0) delay = random * delayBoundMillis(policy, attempt)
  return elapsedMillis + delay > Duration.toMillis(policy.maxElapsed) ? -1 : delay
}

/**
 * Per-run counters the retry loop reports into (used by `resilient(...)` for
 * its metrics).
 *
 * @internal
 */
export interface RetryStats {
  retries: number
}

/**
 * The retry loop, for a call that started at `startMillis` on `clock`.
 * `self` is re-run as is, so it must be the whole attempt (timeout and
 * breaker included when composed by `resilient`).
 *
 * @internal
 */
export const retryFrom = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  policy: RetryPolicy,
  request: Classify.RequestInfo | undefined,
  stats: RetryStats | undefined,
  clock: Clock.Clock,
  startMillis: number
): Effect.Effect<A, E, R> => {
  const loop = (attempt: number): Effect.Effect<A, E, R> =>
    Effect.catch(self, (error) => {
      const now = clock.currentTimeMillisUnsafe()
      // Read here rather than up front: the success path never needs it.
      const random = Fiber.getCurrent()!.getRef(Random.Random).nextDoubleUnsafe()
      const delay = nextDelayMillis(policy, error, request, attempt, now - startMillis, now, random)
      if (delay < 0) return Effect.fail(error)
      if (stats !== undefined) stats.retries++
      return Effect.logDebug("retrying").pipe(
        Effect.annotateLogs({ policy: policy.name, attempt: attempt + 1, delayMillis: delay }),
        Effect.andThen(Effect.sleep(delay)),
        Effect.andThen(Effect.suspend(() => loop(attempt + 1)))
      )
    })
  return loop(1)
}

/**
 * `retryFrom` reading the clock itself.
 *
 * @internal
 */
export const retryLoop = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  policy: RetryPolicy,
  request: Classify.RequestInfo | undefined,
  stats: RetryStats | undefined
): Effect.Effect<A, E, R> => {
  // With a single attempt there is nothing to decide: no clock read, no
  // catch frame.
  if (policy.maxAttempts <= 1) return self
  return Effect.withFiber((fiber) => {
    const clock = fiber.getRef(Clock.Clock)
    return retryFrom(self, policy, request, stats, clock, clock.currentTimeMillisUnsafe())
  })
}
