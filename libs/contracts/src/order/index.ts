export { EventsApi, OrderAcceptedResponse, OrderApi, OrdersApi } from "./Api.ts"
export {
  IdempotencyKeyInFlight,
  IdempotencyKeyReused,
  InvalidOrderCursor,
  OrderNotCancellable,
  OrderNotFound
} from "./Errors.ts"
export {
  CustomerId,
  EventPage,
  IdempotencyKey,
  Order,
  OrderAccepted,
  OrderEvent,
  OrderEventType,
  OrderItemRequest,
  OrderLine,
  OrderPage,
  OrderPlaced,
  OrderReason,
  OrderStatus,
  PlaceOrder,
  Quantity
} from "./Schemas.ts"
