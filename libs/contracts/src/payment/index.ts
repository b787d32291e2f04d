export { PaymentApi, PaymentsApi } from "./Api.ts"
export {
  InvalidPaymentState,
  PaymentDeclined,
  PaymentInProgress,
  PaymentMismatch,
  PaymentNotFound,
  ProcessorUnavailable,
  ProcessorUnavailableResponse
} from "./Errors.ts"
export {
  AuthorizeRequest,
  ChargeAmount,
  DeclineReason,
  Payment,
  PaymentOperation,
  PaymentStatus,
  PaymentToken
} from "./Schemas.ts"
