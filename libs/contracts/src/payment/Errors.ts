/**
 * The errors of the payment service: each an RFC 9457 problem with its own `type`, so the
 * three 409s are told apart by the client.
 */
import { Schema } from "effect"
import { HttpApiError, HttpApiSchema } from "effect/http-api"
import { OrderId } from "../Common.ts"
import { problemFields, problemType } from "../Problem.ts"
import { DeclineReason, PaymentOperation, PaymentStatus } from "./Schemas.ts"

/** No payment has this id. */
export class PaymentNotFound extends HttpApiError.Problem<PaymentNotFound>()(
  "PaymentNotFound",
  { type: problemType("payment-not-found"), status: 404, title: "Payment not found" },
  { ...problemFields, paymentId: OrderId }
) {}

/**
 * The processor declined the authorization. The decline is stored: repeating the same
 * authorization answers the same decline without asking the processor again.
 */
export class PaymentDeclined extends HttpApiError.Problem<PaymentDeclined>()(
  "PaymentDeclined",
  { type: problemType("payment-declined"), status: 402, title: "Payment declined" },
  { ...problemFields, paymentId: OrderId, reason: DeclineReason }
) {}

/** The operation is not allowed in the payment's current state (e.g. capture of a voided payment). */
export class InvalidPaymentState extends HttpApiError.Problem<InvalidPaymentState>()(
  "InvalidPaymentState",
  { type: problemType("invalid-payment-state"), status: 409, title: "Operation not allowed in this state" },
  { ...problemFields, paymentId: OrderId, operation: PaymentOperation, currentState: PaymentStatus }
) {}

/** An authorization with this payment id exists with another amount, currency or token. */
export class PaymentMismatch extends HttpApiError.Problem<PaymentMismatch>()(
  "PaymentMismatch",
  { type: problemType("payment-mismatch"), status: 409, title: "Payment exists with different details" },
  {
    ...problemFields,
    paymentId: OrderId,
    mismatched: Schema.Array(Schema.Literals(["amount", "currency", "token"]))
  }
) {}

/**
 * The same operation on this payment is in flight (a concurrent duplicate) and did not finish
 * while this request waited for it. Retrying later answers its outcome.
 */
export class PaymentInProgress extends HttpApiError.Problem<PaymentInProgress>()(
  "PaymentInProgress",
  { type: problemType("payment-in-progress"), status: 409, title: "Operation in progress" },
  { ...problemFields, paymentId: OrderId, operation: PaymentOperation }
) {}

/**
 * The card processor cannot be reached (timeouts, errors after retries, or its circuit breaker
 * is open). Nothing was changed; retry after `retryAfterSeconds`, also sent as `Retry-After`.
 */
export class ProcessorUnavailable extends HttpApiError.Problem<ProcessorUnavailable>()(
  "ProcessorUnavailable",
  { type: problemType("processor-unavailable"), status: 503, title: "Payment processor unavailable" },
  { ...problemFields, retryAfterSeconds: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)) }
) {}

/** {@link ProcessorUnavailable} as a response: the problem body plus a `Retry-After` header. */
export const ProcessorUnavailableResponse = ProcessorUnavailable.pipe(
  HttpApiSchema.encodeToWithHeaders(
    { body: ProcessorUnavailable, headers: { "retry-after": Schema.String } },
    {
      decode: ({ body }) => body,
      encode: (error) => ({ body: error, headers: { "retry-after": String(error.retryAfterSeconds) } })
    }
  )
)
