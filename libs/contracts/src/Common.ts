/**
 * Wire types shared by several services. Ids are branded so an order id cannot be passed where
 * a SKU is expected; money is an integer amount of minor units (cents) plus an ISO 4217
 * currency code, never a float.
 */
import { Schema } from "effect"

/** An order's id; also the reservation id in inventory and the payment id in payment. */
export const OrderId = Schema.String.check(Schema.isUUID()).pipe(Schema.brand("OrderId"))
export type OrderId = typeof OrderId.Type

/** A stock-keeping unit: upper-case letters, digits and dashes, e.g. `BOLT-M8`. */
export const Sku = Schema.String.check(Schema.isPattern(/^[A-Z0-9][A-Z0-9-]{0,63}$/)).pipe(
  Schema.brand("Sku")
)
export type Sku = typeof Sku.Type

/** ISO 4217 currency code, e.g. `EUR`. */
export const Currency = Schema.String.check(Schema.isPattern(/^[A-Z]{3}$/))

/** A non-negative amount of minor units (cents), at most 10^12 so it stays an exact integer. */
export const MinorUnits = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1_000_000_000_000 }))

export const Money = Schema.Struct({ amount: MinorUnits, currency: Currency })
export type Money = typeof Money.Type

/** The most items one page of a list may hold, and the default. */
export const maxPageSize = 100
export const defaultPageSize = 20

/** Query of a cursor-paginated list: `limit` (1..100, default 20) and an opaque `cursor`. */
export const PageQuery = {
  limit: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: maxPageSize }))),
  cursor: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(512)))
}

/** One page of a list; `nextCursor` is null on the last page. */
export const Page = <S extends Schema.Top>(item: S) =>
  Schema.Struct({ items: Schema.Array(item), nextCursor: Schema.NullOr(Schema.String) })
