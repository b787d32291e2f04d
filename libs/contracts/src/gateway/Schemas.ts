/**
 * Wire types of the public API (`/v1`). They are the gateway's own, not the internal services':
 * an internal field can be added, renamed or dropped without changing what clients see, and
 * nothing internal (customer ids, reservation states, which service failed) is exposed.
 */
import { Schema } from "effect"
import { Money, OrderId, Page, Sku } from "../Common.ts"

// ---------------------------------------------------------------------------------------------
// Products
// ---------------------------------------------------------------------------------------------

export const Product = Schema.Struct({
  sku: Sku,
  name: Schema.String,
  /** The unit price, in minor units of its currency. */
  price: Money,
  /** Units that can be ordered now. */
  available: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
}).annotate({ identifier: "Product" })
export type Product = typeof Product.Type

export const ProductPage = Page(Product).annotate({ identifier: "ProductPage" })
export type ProductPage = typeof ProductPage.Type

/** Stock an admin sets: a whole number of units, 0..1,000,000. */
export const StockLevel = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1_000_000 }))

/** Body of `PUT /v1/products/{sku}/stock`. */
export const SetStock = Schema.Struct({ available: StockLevel }).annotate({ identifier: "SetStock" })
export type SetStock = typeof SetStock.Type

// ---------------------------------------------------------------------------------------------
// Orders
// ---------------------------------------------------------------------------------------------

/** A client-chosen key that makes placing an order safe to retry: 1..255 printable ASCII. */
export const IdempotencyKey = Schema.String.check(Schema.isPattern(/^[\x21-\x7e]{1,255}$/))

/** Units of one item: 1..1000. */
export const Quantity = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 }))

export const OrderItemRequest = Schema.Struct({ sku: Sku, quantity: Quantity })
export type OrderItemRequest = typeof OrderItemRequest.Type

/** Each SKU at most once per order; a repeat is reported at its own index. */
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

/** Body of `POST /v1/orders`: 1..50 items with distinct SKUs, and how to pay. Prices are ours. */
export const PlaceOrder = Schema.Struct({
  items: Schema.Array(OrderItemRequest).check(Schema.isBetweenLength(1, 50), distinctSkus),
  payment: Schema.Struct({
    /** A payment token from the card form, e.g. `tok_visa` in test mode. */
    token: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(128))
  })
}).annotate({ identifier: "PlaceOrder" })
export type PlaceOrder = typeof PlaceOrder.Type

export const OrderStatus = Schema.Literals(["PENDING", "CONFIRMED", "REJECTED", "CANCELLED"])
export type OrderStatus = typeof OrderStatus.Type

/**
 * Why an order ended REJECTED or CANCELLED:
 * - `out_of_stock`: some item could not be reserved (nothing was charged);
 * - `unknown_sku`: an item names no product;
 * - `payment_declined`: the card was declined (`declineReason` says why);
 * - `processing_failed`: the order could not be completed; nothing was charged or it was refunded;
 * - `cancelled_by_customer`: cancelled on request (refunded if it was charged).
 */
export const OrderReason = Schema.Literals([
  "out_of_stock",
  "unknown_sku",
  "payment_declined",
  "processing_failed",
  "cancelled_by_customer"
])
export type OrderReason = typeof OrderReason.Type

/** An order line; `unitPrice` is set once the order is priced (a PENDING order may not be yet). */
export const OrderLine = Schema.Struct({ sku: Sku, quantity: Quantity, unitPrice: Schema.optionalKey(Money) })

export const Order = Schema.Struct({
  id: OrderId,
  status: OrderStatus,
  reason: Schema.optionalKey(OrderReason),
  /** The card processor's reason when `reason` is `payment_declined`, e.g. `insufficient_funds`. */
  declineReason: Schema.optionalKey(Schema.String),
  items: Schema.Array(OrderLine),
  /** Set once the order is priced. */
  total: Schema.optionalKey(Money),
  /** ISO 8601 instants. */
  createdAt: Schema.String,
  updatedAt: Schema.String
}).annotate({ identifier: "Order" })
export type Order = typeof Order.Type

/** 201: the order reached its final state while the request waited. */
export class OrderPlaced extends Schema.Class<OrderPlaced>("OrderPlaced")(Order.fields) {}

/** 202: the order is accepted and still PENDING; `Location` is where its outcome can be read. */
export class OrderAccepted extends Schema.Class<OrderAccepted>("OrderAccepted")(Order.fields) {}

export const OrderPage = Page(Order).annotate({ identifier: "OrderPage" })
export type OrderPage = typeof OrderPage.Type
