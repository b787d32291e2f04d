/**
 * Wire types of the payment service. A payment is keyed by the order it pays for (its id is
 * the order id), so every operation on it is idempotent by that id. Amounts are integer minor
 * units, never floats.
 */
import { Schema } from "effect"
import { Currency, MinorUnits, OrderId } from "../Common.ts"

/**
 * The life of a payment:
 *
 * ```text
 * PENDING --authorize--> AUTHORIZED --capture--> CAPTURED --void--> REFUNDED
 *    |                       |
 *    +--> DECLINED           +--void--> VOIDED
 * ```
 *
 * PENDING is only seen while an authorization is in flight at the processor.
 */
export const PaymentStatus = Schema.Literals([
  "PENDING",
  "AUTHORIZED",
  "CAPTURED",
  "VOIDED",
  "REFUNDED",
  "DECLINED"
])
export type PaymentStatus = typeof PaymentStatus.Type

/** Why the card processor declined an authorization. */
export const DeclineReason = Schema.Literals([
  "card_declined",
  "insufficient_funds",
  "amount_too_large",
  "invalid_token"
])
export type DeclineReason = typeof DeclineReason.Type

/**
 * A card token issued by the processor (test tokens: `tok_visa` approves, `tok_decline` and
 * `tok_insufficient_funds` decline). Only its shape is checked here; a token the processor
 * does not know is declined with `invalid_token`.
 */
export const PaymentToken = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(255))

/** An amount to charge: a positive integer of minor units and its currency. */
export const ChargeAmount = Schema.Struct({
  amount: MinorUnits.check(Schema.isGreaterThan(0)),
  currency: Currency
})
export type ChargeAmount = typeof ChargeAmount.Type

/** `POST /payments`: authorize `amount` on the card behind `token`, for order `paymentId`. */
export const AuthorizeRequest = Schema.Struct({
  paymentId: OrderId,
  amount: ChargeAmount,
  token: PaymentToken
})
export type AuthorizeRequest = typeof AuthorizeRequest.Type

/** The operations that change a payment. */
export const PaymentOperation = Schema.Literals(["authorize", "capture", "void"])
export type PaymentOperation = typeof PaymentOperation.Type

export const Payment = Schema.Struct({
  id: OrderId,
  status: PaymentStatus,
  amount: ChargeAmount,
  /** Present when `status` is DECLINED. */
  declineReason: Schema.optionalKey(DeclineReason),
  createdAt: Schema.DateTimeUtcFromString,
  updatedAt: Schema.DateTimeUtcFromString
})
export type Payment = typeof Payment.Type
