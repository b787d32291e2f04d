/**
 * Wire types of the inventory service: products with their stock, and reservations of stock for
 * an order. A reservation's id is the order's id, which makes every reservation call idempotent.
 */
import { Schema } from "effect"
import { Currency, Money, OrderId, Page, Sku } from "../Common.ts"

/** The most units of stock one product may be set to (a sanity bound on admin input). */
export const maxStock = 1_000_000

/** Stock an admin sets: a whole number of units, 0..1,000,000. */
export const StockLevel = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: maxStock }))

/**
 * Stock as reported: never negative. Not bounded above, because stock returned by a released
 * reservation may take a product past the bound an admin can set.
 */
export const Available = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/** A product's display name: 1..200 characters, no surrounding whitespace. */
export const ProductName = Schema.String.check(
  Schema.isTrimmed(),
  Schema.isNonEmpty(),
  Schema.isMaxLength(200)
)

export const Product = Schema.Struct({
  sku: Sku,
  name: ProductName,
  price: Money,
  available: Available
}).annotate({ identifier: "Product" })
export type Product = typeof Product.Type

/** The answer of `PUT /products/:sku` when it created the product (201); a replace answers 200. */
export class ProductCreated extends Schema.Class<ProductCreated>("ProductCreated")(Product.fields) {}

export const ProductPage = Page(Product).annotate({ identifier: "ProductPage" })
export type ProductPage = typeof ProductPage.Type

/** Body of `PUT /products/:sku`: creates the product or replaces it. */
export const UpsertProduct = Schema.Struct({ name: ProductName, price: Money, available: StockLevel })
export type UpsertProduct = typeof UpsertProduct.Type

/** Body of `PUT /products/:sku/stock`. */
export const SetStock = Schema.Struct({ available: StockLevel })
export type SetStock = typeof SetStock.Type

/** The most items one reservation may hold, and the most units of one item. */
export const maxReservationItems = 50
export const maxQuantity = 1000

/** Units of one item in a reservation: 1..1000. */
export const Quantity = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: maxQuantity }))

export const ReservationItemRequest = Schema.Struct({ sku: Sku, quantity: Quantity })
export type ReservationItemRequest = typeof ReservationItemRequest.Type

/** Each SKU at most once per reservation; a repeat is reported at its own index. */
const noDuplicateSku = Schema.makeFilter<ReadonlyArray<ReservationItemRequest>>(
  (items) => {
    const firstIndex = new Map<string, number>()
    const issues: Array<Schema.FilterIssue> = []
    items.forEach((item, index) => {
      const first = firstIndex.get(item.sku)
      if (first === undefined) firstIndex.set(item.sku, index)
      else
        issues.push({ path: [index, "sku"], issue: `Duplicate SKU ${item.sku} (already at items.${first})` })
    })
    return issues
  },
  { expected: "items with distinct SKUs" }
)

/** Body of `POST /reservations`: 1..50 items with distinct SKUs. */
export const CreateReservation = Schema.Struct({
  reservationId: OrderId,
  items: Schema.Array(ReservationItemRequest).check(
    Schema.isBetweenLength(1, maxReservationItems),
    noDuplicateSku
  )
}).annotate({ identifier: "CreateReservation" })
export type CreateReservation = typeof CreateReservation.Type

/**
 * RESERVED -> COMMITTED | RELEASED, and COMMITTED -> RETURNED (a sold order taken back: its
 * stock is restocked). RELEASED and RETURNED are final.
 */
export const ReservationState = Schema.Literals(["RESERVED", "COMMITTED", "RELEASED", "RETURNED"])
export type ReservationState = typeof ReservationState.Type

/** A reserved item, with its unit price fixed at reservation time. */
export const ReservationItem = Schema.Struct({ sku: Sku, quantity: Quantity, unitPrice: Money })
export type ReservationItem = typeof ReservationItem.Type

/**
 * A reservation: its items in SKU order, their total (all items share one currency), and the
 * instant after which a reservation still RESERVED is released.
 */
export const Reservation = Schema.Struct({
  reservationId: OrderId,
  state: ReservationState,
  items: Schema.Array(ReservationItem),
  total: Money,
  expiresAt: Schema.DateTimeUtc
}).annotate({ identifier: "Reservation" })
export type Reservation = typeof Reservation.Type

/** The answer of `POST /reservations` when it created the reservation (201); a repeat answers 200. */
export class ReservationCreated extends Schema.Class<ReservationCreated>("ReservationCreated")(
  Reservation.fields
) {}

/** A product whose stock cannot cover a reservation item. */
export const Shortage = Schema.Struct({
  sku: Sku,
  requested: Quantity,
  available: Available
})
export type Shortage = typeof Shortage.Type

/** A product's currency, for naming the culprits of a mixed-currency reservation. */
export const SkuCurrency = Schema.Struct({ sku: Sku, currency: Currency })
