/**
 * The inventory service's contract errors, each an RFC 9457 problem with its status. Problems
 * that share a status (the three 409s, the 422s) are told apart by `type`.
 */
import { Schema } from "effect"
import { HttpApiError } from "effect/http-api"
import { Currency, OrderId, Sku } from "../Common.ts"
import { problemFields, problemType } from "../Problem.ts"
import { ReservationState, Shortage, SkuCurrency } from "./Schemas.ts"

export class ProductNotFound extends HttpApiError.Problem<ProductNotFound>()(
  "ProductNotFound",
  { type: problemType("product-not-found"), status: 404, title: "Product not found" },
  { ...problemFields, sku: Sku }
) {}

/** The `cursor` of a list query is not one this service handed out. */
export class InvalidCursor extends HttpApiError.Problem<InvalidCursor>()(
  "InvalidCursor",
  { type: problemType("invalid-cursor"), status: 400, title: "Invalid cursor" },
  { ...problemFields, field: Schema.Literal("cursor") }
) {}

export class ReservationNotFound extends HttpApiError.Problem<ReservationNotFound>()(
  "ReservationNotFound",
  { type: problemType("reservation-not-found"), status: 404, title: "Reservation not found" },
  { ...problemFields, reservationId: OrderId }
) {}

/** Stock cannot cover the reservation: every short item, with what was asked and what is left. */
export class OutOfStock extends HttpApiError.Problem<OutOfStock>()(
  "OutOfStock",
  { type: problemType("out-of-stock"), status: 409, title: "Out of stock" },
  { ...problemFields, items: Schema.Array(Shortage) }
) {}

/** The reservation id is already used by a reservation with other items. */
export class ReservationMismatch extends HttpApiError.Problem<ReservationMismatch>()(
  "ReservationMismatch",
  {
    type: problemType("reservation-mismatch"),
    status: 409,
    title: "Reservation id already used with other items"
  },
  { ...problemFields, reservationId: OrderId }
) {}

/**
 * The action is not allowed in the reservation's state: commit of a released one, release of a
 * committed one, return of one that was never committed.
 */
export class InvalidReservationState extends HttpApiError.Problem<InvalidReservationState>()(
  "InvalidReservationState",
  {
    type: problemType("invalid-reservation-state"),
    status: 409,
    title: "Reservation is not in a state that allows this"
  },
  {
    ...problemFields,
    reservationId: OrderId,
    state: ReservationState,
    action: Schema.Literals(["commit", "release", "return"])
  }
) {}

/** Items name products that do not exist. */
export class UnknownProducts extends HttpApiError.Problem<UnknownProducts>()(
  "UnknownProducts",
  { type: problemType("unknown-products"), status: 422, title: "Unknown products" },
  { ...problemFields, skus: Schema.Array(Sku) }
) {}

/** The items are priced in more than one currency, so they have no total. */
export class MixedCurrencies extends HttpApiError.Problem<MixedCurrencies>()(
  "MixedCurrencies",
  { type: problemType("mixed-currencies"), status: 422, title: "Items are priced in different currencies" },
  { ...problemFields, items: Schema.Array(SkuCurrency) }
) {}

/** The reservation's total is beyond the largest amount money can hold. */
export class AmountTooLarge extends HttpApiError.Problem<AmountTooLarge>()(
  "AmountTooLarge",
  { type: problemType("amount-too-large"), status: 422, title: "Total amount too large" },
  { ...problemFields, currency: Currency }
) {}
