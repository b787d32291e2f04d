/** The `/v1/orders` endpoints: always the authenticated caller's own orders. */
import { Caller, GatewayApi } from "@acme/contracts/gateway"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Orders } from "./Orders.ts"

export const OrdersHttp = HttpApiBuilder.group(
  GatewayApi,
  "orders",
  Effect.fn(function* (handlers) {
    const orders = yield* Orders
    return handlers
      .handle("place", ({ headers, payload }) =>
        Caller.use((caller) => orders.place(caller.subject, headers["idempotency-key"], payload))
      )
      .handle("get", ({ params }) => Caller.use((caller) => orders.get(caller.subject, params.id)))
      .handle("list", ({ query }) => Caller.use((caller) => orders.list(caller.subject, query)))
      .handle("cancel", ({ params }) => Caller.use((caller) => orders.cancel(caller.subject, params.id)))
  })
)
