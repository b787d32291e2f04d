/**
 * The services the gateway calls, each built once from its contract and its policy
 * (`@acme/resilience` `Downstream.client` over the pooled transport of `@acme/pool`): GETs, and
 * POSTs with an `Idempotency-Key`, are retried on transient failures; every attempt goes through
 * the downstream's circuit breaker and timeout; at most `DOWNSTREAM_MAX_CONCURRENT` calls are in
 * flight. Each registers a readiness check on its `/health/ready`, made without the policy, so
 * readiness reports the downstream's real state.
 */
import { InventoryApi } from "@acme/contracts/inventory"
import { OrderApi } from "@acme/contracts/order"
import { Downstream, RetryPolicy } from "@acme/resilience"
import { Readiness } from "@acme/server"
import type { Config } from "effect"
import { Context, Effect, Layer } from "effect"
import type { HttpApi, HttpApiGroup } from "effect/http-api"
import * as Settings from "../Settings.ts"

const build = Effect.fnUntraced(function* <ApiId extends string, Groups extends HttpApiGroup.Constraint>(
  name: string,
  api: HttpApi.HttpApi<ApiId, Groups>,
  settings: Config.Config<Config.Success<typeof Settings.inventory>>,
  ready: (downstream: Downstream.Http<Groups>) => Effect.Effect<unknown, unknown>
) {
  const { maxConcurrent, policy, url } = yield* settings
  const downstream = yield* Downstream.client(api, {
    name,
    baseUrl: url,
    ...policy,
    retry: RetryPolicy.transient,
    bulkhead: { maxConcurrent, maxQueue: 0 }
  })
  yield* (yield* Readiness).register(name, ready(downstream))
  return downstream
})

export class InventoryDownstream extends Context.Service<
  InventoryDownstream,
  Downstream.ForApi<typeof InventoryApi>
>()("gateway/InventoryDownstream") {
  static readonly layer = Layer.effect(
    InventoryDownstream,
    build("inventory", InventoryApi, Settings.inventory, (inventory) => inventory.direct.health.ready())
  )
}

export class OrderDownstream extends Context.Service<OrderDownstream, Downstream.ForApi<typeof OrderApi>>()(
  "gateway/OrderDownstream"
) {
  static readonly layer = Layer.effect(
    OrderDownstream,
    build("order", OrderApi, Settings.order, (order) => order.direct.health.ready())
  )
}
