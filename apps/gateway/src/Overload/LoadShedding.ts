/**
 * The global in-flight limit: at most `MAX_IN_FLIGHT` `/v1` requests are processed at once, and
 * the next one is answered 503 + `Retry-After` immediately. Nothing waits in a queue: under
 * overload a queue only adds latency until every queued request times out, while a fast 503
 * lets a client (or a load balancer) go elsewhere or back off. Health probes are not counted,
 * so an overloaded instance is not also declared dead.
 */
import { LoadShedding, ServiceUnavailable } from "@acme/contracts/gateway"
import { Effect, Layer, Metric } from "effect"
import type { Types } from "effect"
import type { HttpServerResponse } from "effect/http"
import * as Settings from "../Settings.ts"
import * as OverloadMetrics from "./OverloadMetrics.ts"

export const LoadSheddingLive = Layer.effect(
  LoadShedding,
  Effect.gen(function* () {
    const { maxInFlight } = yield* Settings.overload
    const overloaded = new ServiceUnavailable({
      reason: "overloaded",
      retryAfterSeconds: 1,
      detail: "Too many requests are in progress; retry shortly"
    })
    // A plain counter: every step is synchronous, so it is exact across fibers.
    let inFlight = 0
    const release = Effect.sync(() => {
      inFlight--
    })
    return LoadShedding.of((httpEffect) =>
      Effect.suspend(
        (): Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled | ServiceUnavailable> => {
          if (inFlight >= maxInFlight) {
            return Effect.andThen(Metric.update(OverloadMetrics.shed, 1), Effect.fail(overloaded))
          }
          inFlight++
          return Effect.ensuring(httpEffect, release)
        }
      )
    )
  })
)
