/**
 * Wire types of the order service. An order is placed by a customer, priced by inventory when
 * its stock is reserved (so a PENDING order may have no prices yet), and ends CONFIRMED,
 * REJECTED (with a reason) or CANCELLED.
 */
import { Schema } from "effect"
import { Money, OrderId, Page, Sku } from "../Common.ts"

/** Who placed an order: the subject of the caller's token at the gateway. */
export const CustomerId = Schema.String.check(Schema.isPattern(/^[\w.@:-]{1,128}$/)).pipe(
  Schema.brand("CustomerId")
)
export type CustomerId = typeof CustomerId.Type

/** A client-chosen key that makes placing an order safe to retry (scoped per customer). */
export const IdempotencyKey = Schema.String.check(Schema.isPattern(/^[\x21-\x7e]{1,255}$/))

export const OrderStatus = Schema.Literals(["PENDING", "CONFIRMED", "REJECTED", "CANCELLED"])
export type OrderStatus = typeof OrderStatus.Type

/**
 * Why an order ended REJECTED or CANCELLED:
 * - `out_of_stock`: some item could not be reserved (nothing was charged);
 * - `unknown_sku`: an item names no product;
 * - `payment_declined`: the card was declined (`declineReason` says why; stock was released);
 * - `payment_unavailable` / `inventory_unavailable`: a step kept failing until its retries ran out
 *   (dead-lettered); everything done so far was compensated;
 * - `cancelled_by_customer`: cancelled on request (refunded and restocked if it was confirmed).
 */
export const OrderReason = Schema.Literals([
  "out_of_stock",
  "unknown_sku",
  "payment_declined",
  "payment_unavailable",
  "inventory_unavailable",
  "cancelled_by_customer"
])
export type OrderReason = typeof OrderReason.Type

export const Quantity = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 }))

export const OrderItemRequest = Schema.Struct({ sku: Sku, quantity: Quantity })
export type OrderItemRequest = typeof OrderItemRequest.Type

/**
 * Each SKU at most once per order (inventory reserves an order's items by SKU); a repeat is
 * reported at its own index.
 */
const distinctSkus = Schema.makeFilter<ReadonlyArray<OrderItemRequest>>(
  (items) => {
    const first = new Map<string, number>()
    const issues: Array<Schema.FilterIssue> = []
    items.forEach((item, index) => {
      const seen = first.get(item.sku)
      if (seen === undefined) first.set(item.sku, index)
      else
        issues.push({ path: [index, "sku"], issue: `Duplicate SKU ${item.sku} (already at items.${seen})` })
    })
    return issues
  },
  { expected: "items with distinct SKUs" }
)

/** Body of placing an order: 1..50 items with distinct SKUs; prices are never taken from the caller. */
export const PlaceOrder = Schema.Struct({
  items: Schema.Array(OrderItemRequest).check(Schema.isMinLength(1), Schema.isMaxLength(50), distinctSkus),
  payment: Schema.Struct({ token: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(128)) })
})
export type PlaceOrder = typeof PlaceOrder.Type

/** An order line; `unitPrice` is set once inventory has reserved (and priced) the stock. */
export const OrderLine = Schema.Struct({ sku: Sku, quantity: Quantity, unitPrice: Schema.optionalKey(Money) })

export const Order = Schema.Struct({
  id: OrderId,
  customerId: CustomerId,
  status: OrderStatus,
  reason: Schema.optionalKey(OrderReason),
  /** The processor's reason when `reason` is `payment_declined`, e.g. `insufficient_funds`. */
  declineReason: Schema.optionalKey(Schema.String),
  items: Schema.Array(OrderLine),
  /** Set once the order is priced. */
  total: Schema.optionalKey(Money),
  createdAt: Schema.String,
  updatedAt: Schema.String
}).annotate({ identifier: "Order" })
export type Order = typeof Order.Type

/** 201: the saga finished within the wait; the order in its final state. */
export class OrderPlaced extends Schema.Class<OrderPlaced>("OrderPlaced")(Order.fields) {}

/** 202: the order is accepted and still PENDING; follow `Location` for its outcome. */
export class OrderAccepted extends Schema.Class<OrderAccepted>("OrderAccepted")(Order.fields) {}

export const OrderPage = Page(Order).annotate({ identifier: "OrderPage" })
export type OrderPage = typeof OrderPage.Type

export const OrderEventType = Schema.Literals(["order.confirmed", "order.rejected", "order.cancelled"])

/**
 * A domain event, in the order it was recorded. `sequence` increases strictly; a consumer
 * remembers the last one it processed and asks for the events after it.
 */
export const OrderEvent = Schema.Struct({
  sequence: Schema.Int,
  type: OrderEventType,
  orderId: OrderId,
  customerId: CustomerId,
  status: OrderStatus,
  reason: Schema.optionalKey(OrderReason),
  occurredAt: Schema.String
}).annotate({ identifier: "OrderEvent" })
export type OrderEvent = typeof OrderEvent.Type

export const EventPage = Schema.Struct({
  items: Schema.Array(OrderEvent),
  /** The sequence to pass as `after` for the next page (the last one seen when none are new). */
  last: Schema.Int
}).annotate({ identifier: "EventPage" })
