import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  OpenApi
} from "effect/http-api"
import { OrderId } from "../Common.ts"
import { HealthApi } from "../Health.ts"
import {
  InvalidPaymentState,
  PaymentDeclined,
  PaymentInProgress,
  PaymentMismatch,
  PaymentNotFound,
  ProcessorUnavailableResponse
} from "./Errors.ts"
import { AuthorizeRequest, Payment } from "./Schemas.ts"

const byId = { id: OrderId }

/**
 * Payments, keyed by order id. Every operation is idempotent: repeating an authorization with
 * the same body answers the same payment (or the same decline), repeating a capture or a void
 * answers the payment as it is. A void after capture is a refund.
 */
export class PaymentsApi extends HttpApiGroup.make("payments")
  .add(
    HttpApiEndpoint.post("authorize", "/payments", {
      payload: AuthorizeRequest,
      success: Payment.pipe(HttpApiSchema.status(201)),
      error: [PaymentDeclined, PaymentMismatch, PaymentInProgress, ProcessorUnavailableResponse]
    }),
    HttpApiEndpoint.get("get", "/payments/:id", {
      params: byId,
      success: Payment,
      error: PaymentNotFound
    }),
    HttpApiEndpoint.post("capture", "/payments/:id/capture", {
      params: byId,
      success: Payment,
      error: [PaymentNotFound, InvalidPaymentState, PaymentInProgress, ProcessorUnavailableResponse]
    }),
    HttpApiEndpoint.post("void", "/payments/:id/void", {
      params: byId,
      success: Payment,
      error: [PaymentNotFound, InvalidPaymentState, PaymentInProgress, ProcessorUnavailableResponse]
    })
  )
  .annotateMerge(OpenApi.annotations({ title: "Payments" })) {}

/** The HTTP API of the payment service. */
export class PaymentApi extends HttpApi.make("payment")
  .add(HealthApi)
  .add(PaymentsApi)
  .middleware(HttpApiMiddleware.ProblemDetails)
  // A 400 names every invalid field of a request, not just the first.
  .annotate(HttpApi.ParseOptions, { errors: "all" })
  .annotateMerge(OpenApi.annotations({ title: "payment service", version: "0.1.0" })) {}
