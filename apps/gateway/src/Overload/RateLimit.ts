/**
 * A token bucket per caller (the token's subject): `RATE_LIMIT_BURST` requests at once, refilled
 * at `RATE_LIMIT_PER_SECOND`. Beyond it, 429 with `Retry-After` (when the next token arrives)
 * and the `RateLimit-*` headers. Buckets of idle callers are dropped, so memory follows the
 * number of active callers, not of all callers ever seen.
 */
import { Caller, RateLimit, TooManyRequests } from "@acme/contracts/gateway"
import { RateLimiter } from "@acme/resilience"
import { Duration, Effect, Layer, Metric } from "effect"
import type { Types } from "effect"
import type { HttpServerResponse } from "effect/http"
import * as OverloadConfig from "./OverloadConfig.ts"
import * as OverloadMetrics from "./OverloadMetrics.ts"

export const RateLimitLive = Layer.effect(
  RateLimit,
  Effect.gen(function* () {
    const { ratePerSecond, burst } = yield* OverloadConfig.config
    const limiter = yield* RateLimiter.make({ rate: ratePerSecond, interval: "1 second", burst })
    // The policy window: the time an empty bucket takes to fill up again.
    const windowSeconds = Math.ceil(burst / ratePerSecond)
    return RateLimit.of((httpEffect) =>
      Caller.use((caller) =>
        Effect.flatMap(
          limiter.take(caller.subject),
          (
            decision
          ): Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled | TooManyRequests> => {
            if (decision._tag === "Admitted") return httpEffect
            const retryAfterSeconds = Math.max(1, Math.ceil(Duration.toSeconds(decision.retryAfter)))
            return Effect.andThen(
              Metric.update(OverloadMetrics.rateLimited, 1),
              Effect.fail(
                new TooManyRequests({
                  limit: burst,
                  windowSeconds,
                  retryAfterSeconds,
                  detail: `Rate limit of ${burst} requests, refilled at ${ratePerSecond} per second, exceeded`
                })
              )
            )
          }
        )
      )
    )
  })
)
