/**
 * Token-bucket rate limiter keyed by caller (tenant, API key, client IP...).
 *
 * Each key has a bucket holding at most `burst` tokens, refilled continuously
 * at `rate` tokens per `interval`; a call takes one token. A fresh key starts
 * full, so it is admitted `burst` times at once and then `rate` times per
 * `interval`. `take` never waits: it answers admitted, or how long until a
 * token will be available, and the caller decides (reject with `429` and a
 * `Retry-After`, or sleep).
 *
 * Memory is bounded two ways, both O(1) amortised per call:
 *
 * - buckets are kept in least-recently-used order, and on every `take` the
 *   ones idle for `idleTimeout` are dropped. Dropping a bucket idle for at
 *   least the time it takes to refill (the default) is invisible, since it
 *   would be full again anyway;
 * - at most `maxKeys` buckets are kept; beyond that the least recently used
 *   is dropped, which gives that key a full bucket if it comes back. Size
 *   `maxKeys` above the number of keys active within `idleTimeout`.
 *
 * Time comes from the Effect `Clock`, so `TestClock` drives refills and
 * eviction. Updates are synchronous steps, hence atomic across fibers.
 *
 * @since 0.0.0
 */
import { Duration, Effect } from "effect"

/**
 * @since 0.0.0
 * @category models
 */
export interface Options {
  /** Tokens added per `interval`. */
  readonly rate: number
  readonly interval: Duration.Input
  /** Bucket capacity: calls admitted at once after a quiet period. */
  readonly burst: number
  /** Drop a key's bucket after this long without calls. Default: the time to refill `burst` tokens. */
  readonly idleTimeout?: Duration.Input | undefined
  /** Most buckets kept at once. Default 10 000. */
  readonly maxKeys?: number | undefined
}

/**
 * The answer to {@link RateLimiter.take}.
 *
 * @since 0.0.0
 * @category models
 */
export type Decision =
  { readonly _tag: "Admitted" } | { readonly _tag: "Limited"; readonly retryAfter: Duration.Duration }

/**
 * @since 0.0.0
 * @category models
 */
export interface RateLimiter {
  /** Takes a token from `key`'s bucket if one is available. */
  readonly take: (key: string) => Effect.Effect<Decision>
  /** Number of buckets currently held. */
  readonly size: Effect.Effect<number>
}

interface Bucket {
  tokens: number
  updatedAt: number
}

const admitted: Decision = { _tag: "Admitted" }

/**
 * Creates a rate limiter.
 *
 * @example
 * ```ts
 * const limiter = yield* RateLimiter.make({ rate: 10, interval: "1 second", burst: 20 })
 * const decision = yield* limiter.take(apiKey)
 * if (decision._tag === "Limited") return yield* new TooManyRequests({ retryAfter: decision.retryAfter })
 * ```
 *
 * @since 0.0.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<RateLimiter> => Effect.sync(() => makeUnsafe(options))

/**
 * Creates a rate limiter outside of an effect.
 *
 * @since 0.0.0
 * @category constructors
 */
export const makeUnsafe = (options: Options): RateLimiter => {
  const { burst, rate } = options
  if (!(rate > 0) || !Number.isFinite(rate))
    throw new RangeError("RateLimiter: rate must be a positive number")
  if (!Number.isInteger(burst) || burst < 1)
    throw new RangeError("RateLimiter: burst must be an integer >= 1")
  const intervalMillis = Duration.toMillis(Duration.fromInputUnsafe(options.interval))
  if (!(intervalMillis > 0) || !Number.isFinite(intervalMillis)) {
    throw new RangeError("RateLimiter: interval must be a positive, finite duration")
  }
  const idleMillis =
    options.idleTimeout === undefined
      ? Math.ceil((burst * intervalMillis) / rate)
      : Duration.toMillis(Duration.fromInputUnsafe(options.idleTimeout))
  const maxKeys = options.maxKeys ?? 10_000
  if (!Number.isInteger(maxKeys) || maxKeys < 1)
    throw new RangeError("RateLimiter: maxKeys must be an integer >= 1")

  // A Map iterates in insertion order; re-inserting on every access keeps it
  // in least-recently-used order, so eviction only ever looks at the front.
  const buckets = new Map<string, Bucket>()

  const evict = (now: number) => {
    for (const [key, bucket] of buckets) {
      if (buckets.size <= maxKeys && now - bucket.updatedAt < idleMillis) break
      buckets.delete(key)
    }
  }

  const takeUnsafe = (key: string, now: number): Decision => {
    let bucket = buckets.get(key)
    if (bucket === undefined) {
      bucket = { tokens: burst, updatedAt: now }
    } else {
      buckets.delete(key)
      // Multiply before dividing so whole intervals refill exact integers.
      const refill = ((now - bucket.updatedAt) * rate) / intervalMillis
      bucket.tokens = Math.min(burst, bucket.tokens + refill)
      bucket.updatedAt = now
    }
    buckets.set(key, bucket)
    evict(now)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return admitted
    }
    const waitMillis = Math.ceil(((1 - bucket.tokens) * intervalMillis) / rate)
    return { _tag: "Limited", retryAfter: Duration.millis(waitMillis) }
  }

  return {
    take: (key) =>
      Effect.clockWith((clock) => Effect.succeed(takeUnsafe(key, clock.currentTimeMillisUnsafe()))),
    size: Effect.sync(() => buckets.size)
  }
}
