/**
 * The inventory service, as the gateway calls it: the client derived from its contract (pooled
 * connections, see `@acme/pool`), the resilience state every call shares (circuit breaker,
 * bulkhead, per-attempt timeout), and a readiness check on its `/health/ready`.
 */
import { InventoryApi } from "@acme/contracts/inventory"
import { ServiceClient } from "@acme/pool"
import { Downstream } from "@acme/resilience"
import { Readiness } from "@acme/server"
import { Context, Duration, Effect, Layer } from "effect"
import type { HttpApiClient } from "effect/http-api"
import * as DownstreamConfig from "./DownstreamConfig.ts"

export class InventoryClient extends Context.Service<
  InventoryClient,
  { readonly client: HttpApiClient.ForApi<typeof InventoryApi>; readonly downstream: Downstream.Downstream }
>()("gateway/InventoryClient") {
  static readonly layer = Layer.effect(
    InventoryClient,
    Effect.gen(function* () {
      const settings = yield* DownstreamConfig.config("INVENTORY", {
        url: "http://127.0.0.1:8082",
        timeout: Duration.seconds(2)
      })
      const client = yield* ServiceClient.make(InventoryApi, { baseUrl: settings.url })
      const downstream = yield* Downstream.make({
        name: "inventory",
        timeout: settings.timeout,
        circuitBreaker: {
          consecutiveFailures: settings.consecutiveFailures,
          openDuration: settings.openDuration
        },
        bulkhead: { maxConcurrent: settings.maxConcurrent, maxQueue: 0 }
      })
      // Straight to the service, not through the breaker: readiness reports its real state.
      yield* (yield* Readiness).register("inventory", client.health.ready())
      return { client, downstream }
    })
  )
}
