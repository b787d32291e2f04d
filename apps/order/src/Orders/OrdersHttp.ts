import { OrderAccepted, OrderApi, OrderPlaced } from "@acme/contracts/order"
import { Effect } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import type { Placed } from "./Orders.ts"
import { Orders } from "./Orders.ts"

/** Where a placed order's outcome can be read (the contract's `Location` for a 202). */
const locationOf = (body: string) => {
  const order = JSON.parse(body) as { readonly id?: unknown; readonly customerId?: unknown }
  return typeof order.id === "string" && typeof order.customerId === "string"
    ? { location: `/customers/${order.customerId}/orders/${order.id}` }
    : {}
}

/** 201 `OrderPlaced`, 202 `OrderAccepted` (with `Location`), or a stored answer replayed as it was. */
const respond = (placed: Placed) => {
  if (placed._tag === "Replayed") {
    return HttpServerResponse.text(placed.body, {
      status: placed.status,
      contentType: "application/json",
      headers: { "idempotent-replayed": "true", ...(placed.status === 202 ? locationOf(placed.body) : {}) }
    })
  }
  return placed.status === 201 ? new OrderPlaced(placed.order) : new OrderAccepted(placed.order)
}

/** The order endpoints: thin, everything is in `Orders`. */
export const OrdersHttp = HttpApiBuilder.group(
  OrderApi,
  "orders",
  Effect.fn(function* (handlers) {
    const orders = yield* Orders
    return handlers
      .handle("place", ({ params, headers, payload }) =>
        Effect.map(orders.place(params.customerId, headers["idempotency-key"], payload), respond)
      )
      .handle("get", ({ params }) => orders.get(params.customerId, params.orderId))
      .handle("list", ({ params, query }) => orders.list(params.customerId, query))
      .handle("cancel", ({ params }) => orders.cancel(params.customerId, params.orderId))
  })
)
