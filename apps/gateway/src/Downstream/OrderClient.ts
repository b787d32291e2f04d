/**
 * The order service, as the gateway calls it: the client derived from its contract (pooled
 * connections, see `@acme/pool`), the resilience state every call shares (circuit breaker,
 * bulkhead, per-attempt timeout), and a readiness check on its `/health/ready`.
 */
import { OrderApi } from "@acme/contracts/order"
import { ServiceClient } from "@acme/pool"
import { Downstream } from "@acme/resilience"
import { Readiness } from "@acme/server"
import { Context, Duration, Effect, Layer } from "effect"
import type { HttpApiClient } from "effect/http-api"
import * as DownstreamConfig from "./DownstreamConfig.ts"

export class OrderClient extends Context.Service<
  OrderClient,
  { readonly client: HttpApiClient.ForApi<typeof OrderApi>; readonly downstream: Downstream.Downstream }
>()("gateway/OrderClient") {
  static readonly layer = Layer.effect(
    OrderClient,
    Effect.gen(function* () {
      const settings = yield* DownstreamConfig.config("ORDER", {
        url: "http://127.0.0.1:8081",
        timeout: Duration.seconds(4)
      })
      const client = yield* ServiceClient.make(OrderApi, { baseUrl: settings.url })
      const downstream = yield* Downstream.make({
        name: "order",
        timeout: settings.timeout,
        circuitBreaker: {
          consecutiveFailures: settings.consecutiveFailures,
          openDuration: settings.openDuration
        },
        bulkhead: { maxConcurrent: settings.maxConcurrent, maxQueue: 0 }
      })
      // Straight to the service, not through the breaker: readiness reports its real state.
      yield* (yield* Readiness).register("order", client.health.ready())
      return { client, downstream }
    })
  )
}
