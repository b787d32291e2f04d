/** The errors of the order service, each an RFC 9457 problem with its own `type`. */
import { Schema } from "effect"
import { HttpApiError } from "effect/http-api"
import { OrderId } from "../Common.ts"
import { problemFields, problemType } from "../Problem.ts"
import { OrderStatus } from "./Schemas.ts"

/** No order with this id belongs to this customer (another customer's order is not found either). */
export class OrderNotFound extends HttpApiError.Problem<OrderNotFound>()(
  "OrderNotFound",
  { type: problemType("order-not-found"), status: 404, title: "Order not found" },
  { ...problemFields, orderId: OrderId }
) {}

/** The idempotency key was used before with a different request body. */
export class IdempotencyKeyReused extends HttpApiError.Problem<IdempotencyKeyReused>()(
  "IdempotencyKeyReused",
  {
    type: problemType("idempotency-key-reused"),
    status: 422,
    title: "Idempotency key reused with another request"
  },
  { ...problemFields }
) {}

/** A request with this idempotency key is still being processed; retry after it finishes. */
export class IdempotencyKeyInFlight extends HttpApiError.Problem<IdempotencyKeyInFlight>()(
  "IdempotencyKeyInFlight",
  {
    type: problemType("idempotency-key-in-flight"),
    status: 409,
    title: "A request with this key is in progress"
  },
  { ...problemFields }
) {}

/**
 * The order can no longer be cancelled: it is REJECTED, or CONFIRMED longer ago than the
 * cancellation window. A CANCELLED order's cancel answers the order again, not this.
 */
export class OrderNotCancellable extends HttpApiError.Problem<OrderNotCancellable>()(
  "OrderNotCancellable",
  { type: problemType("order-not-cancellable"), status: 409, title: "Order can no longer be cancelled" },
  { ...problemFields, orderId: OrderId, orderStatus: OrderStatus }
) {}

/** The pagination cursor is not one this service issued. */
export class InvalidOrderCursor extends HttpApiError.Problem<InvalidOrderCursor>()(
  "InvalidOrderCursor",
  { type: problemType("invalid-cursor"), status: 400, title: "Invalid cursor" },
  { ...problemFields, cursor: Schema.String }
) {}
