export { GatewayApi, OrderAcceptedResponse, OrdersApi, ProductsApi } from "./Api.ts"
export {
  GatewayTimeout,
  IdempotencyKeyInFlight,
  IdempotencyKeyReused,
  InsufficientScope,
  InsufficientScopeResponse,
  InvalidCursor,
  OrderNotCancellable,
  OrderNotFound,
  ProductNotFound,
  realm,
  ServiceUnavailable,
  ServiceUnavailableResponse,
  TooManyRequests,
  TooManyRequestsResponse,
  Unauthorized,
  unauthorizedChallenge,
  UnauthorizedResponse
} from "./Errors.ts"
export { Authentication, Caller, LoadShedding, RateLimit, RouteTimeout } from "./Middleware.ts"
export {
  IdempotencyKey,
  Order,
  OrderAccepted,
  OrderItemRequest,
  OrderLine,
  OrderPage,
  OrderPlaced,
  OrderReason,
  OrderStatus,
  PlaceOrder,
  Product,
  ProductPage,
  Quantity,
  SetStock,
  StockLevel
} from "./Schemas.ts"
