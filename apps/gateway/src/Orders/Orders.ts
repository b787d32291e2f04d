/**
 * The caller's orders, at the order service. The caller is the token's subject, passed as the
 * customer id of the order service's customer-scoped endpoints: another customer's order is
 * simply not found there, so an id never tells whether it exists.
 *
 * Placing forwards the `Idempotency-Key`, which is also what lets the order downstream retry it.
 * Cancelling, a POST without a key, is tried once.
 */
import type { OrderId } from "@acme/contracts"
import type {
  GatewayTimeout,
  Order,
  OrderPage,
  OrderReason,
  PlaceOrder,
  ServiceUnavailable
} from "@acme/contracts/gateway"
import {
  IdempotencyKeyInFlight,
  IdempotencyKeyReused,
  InvalidCursor,
  OrderAccepted,
  OrderNotCancellable,
  OrderNotFound,
  OrderPlaced
} from "@acme/contracts/gateway"
import * as Internal from "@acme/contracts/order"
import { Context, Effect, Layer } from "effect"
import { publicFailures } from "../Downstream/Failures.ts"
import { OrderDownstream } from "../Downstream/Downstreams.ts"

type Unavailable = ServiceUnavailable | GatewayTimeout

/** Internal reasons that only say which of our services failed become one public reason. */
const reasons: Record<Internal.OrderReason, OrderReason> = {
  out_of_stock: "out_of_stock",
  unknown_sku: "unknown_sku",
  payment_declined: "payment_declined",
  payment_unavailable: "processing_failed",
  inventory_unavailable: "processing_failed",
  cancelled_by_customer: "cancelled_by_customer"
}

/** Only the public fields: the customer id, and whatever is added internally later, stay inside. */
const toPublic = (order: Internal.Order): Order => ({
  id: order.id,
  status: order.status,
  ...(order.reason === undefined ? {} : { reason: reasons[order.reason] }),
  ...(order.declineReason === undefined ? {} : { declineReason: order.declineReason }),
  items: order.items.map((line) => ({
    sku: line.sku,
    quantity: line.quantity,
    ...(line.unitPrice === undefined ? {} : { unitPrice: line.unitPrice })
  })),
  ...(order.total === undefined ? {} : { total: order.total }),
  createdAt: order.createdAt,
  updatedAt: order.updatedAt
})

const notFound = (error: Internal.OrderNotFound) =>
  Effect.fail(new OrderNotFound({ orderId: error.orderId, detail: `You have no order ${error.orderId}` }))

export class Orders extends Context.Service<
  Orders,
  {
    readonly place: (
      customer: string,
      idempotencyKey: string,
      order: PlaceOrder
    ) => Effect.Effect<
      OrderPlaced | OrderAccepted,
      IdempotencyKeyReused | IdempotencyKeyInFlight | Unavailable
    >
    readonly get: (customer: string, id: OrderId) => Effect.Effect<Order, OrderNotFound | Unavailable>
    readonly list: (
      customer: string,
      query: { readonly limit?: number; readonly cursor?: string }
    ) => Effect.Effect<OrderPage, InvalidCursor | Unavailable>
    readonly cancel: (
      customer: string,
      id: OrderId
    ) => Effect.Effect<Order, OrderNotFound | OrderNotCancellable | Unavailable>
  }
>()("gateway/Orders") {
  static readonly layer = Layer.effect(
    Orders,
    Effect.gen(function* () {
      const downstream = yield* OrderDownstream

      const place = Effect.fn("Orders.place")(function* (
        customer: string,
        idempotencyKey: string,
        order: PlaceOrder
      ) {
        const placed = yield* downstream
          .call((client) =>
            client.orders.place({
              params: { customerId: Internal.CustomerId.make(customer) },
              headers: { "idempotency-key": idempotencyKey },
              payload: order
            })
          )
          .pipe(
            publicFailures,
            Effect.catchTags({
              IdempotencyKeyReused: () =>
                Effect.fail(
                  new IdempotencyKeyReused({
                    detail: "This Idempotency-Key was already used with a different request body"
                  })
                ),
              IdempotencyKeyInFlight: () =>
                Effect.fail(
                  new IdempotencyKeyInFlight({
                    detail: "A request with this Idempotency-Key is still in progress; retry shortly"
                  })
                )
            })
          )
        const publicOrder = toPublic(placed)
        return placed instanceof Internal.OrderAccepted
          ? new OrderAccepted(publicOrder)
          : new OrderPlaced(publicOrder)
      })

      const get = Effect.fn("Orders.get")(function* (customer: string, id: OrderId) {
        const order = yield* downstream
          .call((client) =>
            client.orders.get({ params: { customerId: Internal.CustomerId.make(customer), orderId: id } })
          )
          .pipe(publicFailures, Effect.catchTag("OrderNotFound", notFound))
        return toPublic(order)
      })

      const list = Effect.fn("Orders.list")(function* (
        customer: string,
        query: { readonly limit?: number; readonly cursor?: string }
      ) {
        const page = yield* downstream
          .call((client) =>
            client.orders.list({ params: { customerId: Internal.CustomerId.make(customer) }, query })
          )
          .pipe(
            publicFailures,
            Effect.catchTag("InvalidOrderCursor", () =>
              Effect.fail(new InvalidCursor({ field: "cursor", detail: "The cursor is not valid" }))
            )
          )
        return { items: page.items.map(toPublic), nextCursor: page.nextCursor }
      })

      const cancel = Effect.fn("Orders.cancel")(function* (customer: string, id: OrderId) {
        const order = yield* downstream
          .call((client) =>
            client.orders.cancel({ params: { customerId: Internal.CustomerId.make(customer), orderId: id } })
          )
          .pipe(
            publicFailures,
            Effect.catchTags({
              OrderNotFound: notFound,
              OrderNotCancellable: (error) =>
                Effect.fail(
                  new OrderNotCancellable({
                    orderId: error.orderId,
                    orderStatus: error.orderStatus,
                    detail: `The order is ${error.orderStatus} and can no longer be cancelled`
                  })
                )
            })
          )
        return toPublic(order)
      })

      return Orders.of({ place, get, list, cancel })
    })
  )
}
