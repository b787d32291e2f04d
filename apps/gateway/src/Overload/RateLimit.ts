/**
 * A token bucket per caller (the token's subject) on Effect's `RateLimiter`: `RATE_LIMIT_BURST`
 * requests at once, refilled at `RATE_LIMIT_PER_SECOND`. Beyond it, 429 with `Retry-After` (when
 * the next token arrives) and the `RateLimit-*` headers.
 *
 * Where the buckets live:
 *
 * - `REDIS_URL` unset (`npm start`, tests): in this process (`RateLimiter.layerStoreMemory`).
 *   With N replicas a caller gets N times the limit, and the store keeps one small entry per
 *   caller seen; fine for one instance.
 * - `REDIS_URL` set: in Redis (`RateLimiter.layerStoreRedis` over `@effect/platform-node`'s
 *   `NodeRedis`, which runs on Node and on Deno through its npm compatibility: test/RateLimit.test.ts
 *   passes on both), shared by every replica, so a caller gets the limit once whatever the replica
 *   count; Redis expires a bucket once it is full again.
 *
 * Failure mode, decided: the limiter fails **open**. A Redis that does not answer within
 * {@link storeTimeout}, or is disconnected (commands fail at once rather than queue), admits the
 * request, counts it in `gateway.rate_limit.store_errors`, and logs a warning when the store
 * starts failing and an info line when it answers again. Protection degrades to the per-instance
 * load shedding (`MAX_IN_FLIGHT`) instead of the whole API failing with Redis. Redis is not part
 * of readiness for the same reason. At start, though, an unreachable `REDIS_URL` stops the
 * gateway (exit 1, naming Redis): a wrong address shows at once rather than as a silently
 * unlimited fleet. After start, the client reconnects with capped backoff, forever.
 */
import { Caller, RateLimit, TooManyRequests } from "@acme/contracts/gateway"
import { Timeout } from "@acme/server"
import { NodeRedis } from "@effect/platform-node"
import { Duration, Effect, Layer, Metric, Option } from "effect"
import type { Types } from "effect"
import type { HttpServerResponse } from "effect/http"
import { RateLimiter } from "effect/persistence"
import * as Settings from "../Settings.ts"
import * as OverloadMetrics from "./OverloadMetrics.ts"

/** How long a rate-limit decision may take before the request is admitted without one. */
export const storeTimeout = Duration.millis(250)

const storeErrors = Metric.counter("gateway.rate_limit.store_errors", {
  description: "Rate-limit decisions the store could not make; the requests were admitted",
  incremental: true
})

/** Redis through node-redis: no offline queue, and after start, reconnection with backoff. */
const redis = (url: URL) => {
  let started = false
  return Layer.effectContext(
    Layer.build(
      NodeRedis.layer({
        url: url.href,
        disableOfflineQueue: true,
        socket: {
          connectTimeout: 2_000,
          reconnectStrategy: (retries: number, cause: Error) =>
            started ? Math.min(2 ** retries * 50, 2_000) + Math.floor(Math.random() * 200) : cause
        }
      })
    ).pipe(
      Effect.tap(() =>
        Effect.sync(() => {
          started = true
        })
      )
    )
  )
}

/** The store: Redis when `REDIS_URL` is set, else this process's memory. */
export const StoreLive = Layer.unwrap(
  Effect.map(Settings.rateLimit, ({ redisUrl }) =>
    Option.match(redisUrl, {
      onNone: () => RateLimiter.layerStoreMemory,
      onSome: (url) =>
        RateLimiter.layerStoreRedis({ prefix: "gateway:rate-limit:" }).pipe(Layer.provide(redis(url)))
    })
  )
)

export const RateLimitLive = Layer.effect(
  RateLimit,
  Effect.gen(function* () {
    const { ratePerSecond, burst } = yield* Settings.rateLimit
    const limiter = yield* RateLimiter.make
    // The policy window: the time an empty bucket takes to fill up again.
    const window = Duration.seconds(burst / ratePerSecond)
    const windowSeconds = Math.ceil(burst / ratePerSecond)
    let failing = false
    const failOpen = (cause: unknown) =>
      Effect.gen(function* () {
        yield* Metric.update(storeErrors, 1)
        if (failing) return
        failing = true
        yield* Effect.logWarning("rate limit store unavailable; admitting requests unlimited", cause)
      })
    const recovered = Effect.suspend(() => {
      if (!failing) return Effect.void
      failing = false
      return Effect.logInfo("rate limit store available again")
    })
    const limited = (retryAfter: Duration.Duration) =>
      Effect.andThen(
        Metric.update(OverloadMetrics.rateLimited, 1),
        Effect.fail(
          new TooManyRequests({
            limit: burst,
            windowSeconds,
            retryAfterSeconds: Math.max(1, Math.ceil(Duration.toSeconds(retryAfter))),
            detail: `Rate limit of ${burst} requests, refilled at ${ratePerSecond} per second, exceeded`
          })
        )
      )
    return RateLimit.of((httpEffect) =>
      Caller.use((caller) =>
        limiter.consume({ algorithm: "token-bucket", window, limit: burst, key: caller.subject }).pipe(
          Timeout.orElse({
            duration: storeTimeout,
            orElse: () => Effect.fail(`no decision within ${Duration.format(storeTimeout)}`)
          }),
          Effect.matchEffect({
            onSuccess: () => Effect.andThen(recovered, httpEffect),
            onFailure: (
              error
            ): Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled | TooManyRequests> =>
              error instanceof RateLimiter.RateLimiterError && error.reason._tag === "RateLimitExceeded"
                ? Effect.andThen(recovered, limited(error.reason.retryAfter))
                : Effect.andThen(failOpen(error), httpEffect)
          })
        )
      )
    )
  })
).pipe(Layer.provide(StoreLive))
