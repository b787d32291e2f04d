/**
 * Named retry policies: capped exponential backoff with full jitter, bounded
 * by a number of attempts and by a total elapsed-time budget, retrying only
 * what {@link Classify.isRetryable} accepts, and honouring `Retry-After`.
 *
 * Call sites pick a policy by name (`RetryPolicy.transient`,
 * `RetryPolicy.none`, ...) rather than tuning numbers inline, so the retry
 * behaviour of the whole system can be read (and changed) in one place.
 *
 * Delay before retry `n` (n = 1 for the first retry) is drawn uniformly from
 * `[0, min(maxDelay, baseDelay * 2^(n-1)))` ("full jitter": it spreads
 * synchronised clients best, see the AWS architecture blog "Exponential
 * Backoff And Jitter"). When the failure carries a `Retry-After`, that value
 * replaces the jittered delay for that retry. Either way:
 *
 * - no retry after `maxAttempts` attempts;
 * - no retry whose delay would end past `maxElapsed` since the first attempt
 *   started (the budget is not stretched by sleeping into it and then
 *   giving up);
 * - no retry when `Retry-After` asks for longer than `maxDelay`: retrying
 *   earlier than the server asked is pointless load, and waiting longer than
 *   the policy allows is not what the caller signed up for, so the failure is
 *   returned at once.
 *
 * Time and randomness come from the Effect `Clock` and `Random` services, so
 * `TestClock` and `Random.withSeed` make the behaviour deterministic.
 *
 * @since 0.0.0
 */
import { Duration, Effect } from "effect"
import { dual } from "effect/Function"
import * as Classify from "./Classify.ts"
import * as internal from "./internal/retry.ts"

/**
 * A named retry policy.
 *
 * @since 0.0.0
 * @category models
 */
export interface RetryPolicy {
  readonly _tag: "RetryPolicy"
  /** Stable name, used in logs. */
  readonly name: string
  /** Total attempts, first one included; `1` disables retries. */
  readonly maxAttempts: number
  /** Upper bound of the first retry's delay; doubles for each further retry. */
  readonly baseDelay: Duration.Duration
  /** Cap on any single delay, `Retry-After` included. */
  readonly maxDelay: Duration.Duration
  /** Budget for the whole call, measured from the start of the first attempt. */
  readonly maxElapsed: Duration.Duration
  /** Whether a `Retry-After` on the failure replaces the jittered delay. */
  readonly honorRetryAfter: boolean
  /** Which failures are retried; defaults to {@link Classify.isRetryable}. */
  readonly isRetryable: (error: unknown, request: Classify.RequestInfo | undefined) => boolean
}

/**
 * Builds a policy.
 *
 * @since 0.0.0
 * @category constructors
 */
export const make = (options: {
  readonly name: string
  readonly maxAttempts: number
  readonly baseDelay: Duration.Input
  readonly maxDelay: Duration.Input
  readonly maxElapsed: Duration.Input
  readonly honorRetryAfter?: boolean | undefined
  readonly isRetryable?: ((error: unknown, request: Classify.RequestInfo | undefined) => boolean) | undefined
}): RetryPolicy => {
  if (!Number.isInteger(options.maxAttempts) || options.maxAttempts < 1) {
    throw new RangeError(`RetryPolicy "${options.name}": maxAttempts must be an integer >= 1`)
  }
  return {
    _tag: "RetryPolicy",
    name: options.name,
    maxAttempts: options.maxAttempts,
    baseDelay: Duration.fromInputUnsafe(options.baseDelay),
    maxDelay: Duration.fromInputUnsafe(options.maxDelay),
    maxElapsed: Duration.fromInputUnsafe(options.maxElapsed),
    honorRetryAfter: options.honorRetryAfter ?? true,
    isRetryable: options.isRetryable ?? Classify.isRetryable
  }
}

/**
 * Never retries. For calls whose failure must surface at once (or that are
 * retried at a higher level).
 *
 * @since 0.0.0
 * @category policies
 */
export const none: RetryPolicy = make({
  name: "none",
  maxAttempts: 1,
  baseDelay: Duration.zero,
  maxDelay: Duration.zero,
  maxElapsed: Duration.zero
})

/**
 * The default for interactive service-to-service calls: 3 attempts, backoff
 * from 100ms capped at 1s, 3s budget, so a user-facing request is not held
 * hostage by a struggling downstream.
 *
 * @since 0.0.0
 * @category policies
 */
export const transient: RetryPolicy = make({
  name: "transient",
  maxAttempts: 3,
  baseDelay: "100 millis",
  maxDelay: "1 second",
  maxElapsed: "3 seconds"
})

/**
 * For background work (consumers, reconcilers) that can afford to wait: 6
 * attempts, backoff from 500ms capped at 10s, 1 minute budget.
 *
 * @since 0.0.0
 * @category policies
 */
export const patient: RetryPolicy = make({
  name: "patient",
  maxAttempts: 6,
  baseDelay: "500 millis",
  maxDelay: "10 seconds",
  maxElapsed: "1 minute"
})

/**
 * Upper bound, in milliseconds, of the jittered delay before retry `retry`
 * (1-based): `min(maxDelay, baseDelay * 2^(retry-1))`.
 *
 * @since 0.0.0
 * @category utils
 */
export const delayBoundMillis: (policy: RetryPolicy, retry: number) => number = internal.delayBoundMillis

/**
 * Retries `self` under `policy`. `request` tells the classifier whether the
 * operation may be repeated when the error itself does not say (see
 * {@link Classify.RequestInfo}).
 *
 * @example
 * ```ts
 * const user = fetchUser(id).pipe(RetryPolicy.retry(RetryPolicy.transient))
 * ```
 *
 * @since 0.0.0
 * @category combinators
 */
export const retry: {
  (
    policy: RetryPolicy,
    options?: { readonly request?: Classify.RequestInfo | undefined }
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    policy: RetryPolicy,
    options?: { readonly request?: Classify.RequestInfo | undefined }
  ): Effect.Effect<A, E, R>
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    policy: RetryPolicy,
    options?: { readonly request?: Classify.RequestInfo | undefined }
  ): Effect.Effect<A, E, R> => internal.retryLoop(self, policy, options?.request, undefined)
)
