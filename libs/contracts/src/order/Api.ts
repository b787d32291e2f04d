import { Schema } from "effect"
import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  OpenApi
} from "effect/http-api"
import { OrderId, PageQuery } from "../Common.ts"
import { HealthApi } from "../Health.ts"
import {
  IdempotencyKeyInFlight,
  IdempotencyKeyReused,
  InvalidOrderCursor,
  OrderNotCancellable,
  OrderNotFound
} from "./Errors.ts"
import {
  CustomerId,
  EventPage,
  IdempotencyKey,
  Order,
  OrderAccepted,
  OrderPage,
  OrderPlaced,
  PlaceOrder
} from "./Schemas.ts"

const customer = { customerId: CustomerId }
const customerOrder = { customerId: CustomerId, orderId: OrderId }

/**
 * 202 with `Location`, where the order's outcome can be read. The status goes on the body schema:
 * `encodeToWithHeaders` takes status and encoding from the body, not from the wrapped schema.
 */
export const OrderAcceptedResponse = OrderAccepted.pipe(
  HttpApiSchema.encodeToWithHeaders(
    { body: OrderAccepted.pipe(HttpApiSchema.status(202)), headers: { location: Schema.String } },
    {
      decode: ({ body }) => body,
      encode: (order) => ({
        body: order,
        headers: { location: `/customers/${order.customerId}/orders/${order.id}` }
      })
    }
  )
)

/**
 * Orders, always in the scope of the customer who placed them. Placing needs an
 * `Idempotency-Key`: the same key and body answer the stored response again (with
 * `Idempotent-Replayed: true`); the same key with another body is 422; a duplicate while the
 * first is in flight is 409. Placing waits a bounded time for the saga: 201 with the final order,
 * or 202 with `Location` when it is still PENDING.
 */
export class OrdersApi extends HttpApiGroup.make("orders")
  .add(
    HttpApiEndpoint.post("place", "/customers/:customerId/orders", {
      params: customer,
      headers: { "idempotency-key": IdempotencyKey },
      payload: PlaceOrder,
      success: [OrderPlaced.pipe(HttpApiSchema.status(201)), OrderAcceptedResponse],
      error: [IdempotencyKeyReused, IdempotencyKeyInFlight]
    }),
    HttpApiEndpoint.get("get", "/customers/:customerId/orders/:orderId", {
      params: customerOrder,
      success: Order,
      error: OrderNotFound
    }),
    HttpApiEndpoint.get("list", "/customers/:customerId/orders", {
      params: customer,
      query: PageQuery,
      success: OrderPage,
      error: InvalidOrderCursor
    }),
    HttpApiEndpoint.post("cancel", "/customers/:customerId/orders/:orderId/cancel", {
      params: customerOrder,
      success: Order,
      error: [OrderNotFound, OrderNotCancellable]
    })
  )
  .annotateMerge(OpenApi.annotations({ title: "Orders" })) {}

/** Order events (confirmed, rejected, cancelled) in recorded order, for consumers to follow. */
export class EventsApi extends HttpApiGroup.make("events")
  .add(
    HttpApiEndpoint.get("list", "/events", {
      query: {
        after: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
        limit: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 500 })))
      },
      success: EventPage
    })
  )
  .annotateMerge(OpenApi.annotations({ title: "Events" })) {}

/** The HTTP API of the order service. */
export class OrderApi extends HttpApi.make("order")
  .add(HealthApi)
  .add(OrdersApi)
  .add(EventsApi)
  .middleware(HttpApiMiddleware.ProblemDetails)
  // A 400 names every invalid field of a request, not just the first.
  .annotate(HttpApi.ParseOptions, { errors: "all" })
  .annotateMerge(OpenApi.annotations({ title: "order service", version: "0.1.0" })) {}
