import { Schema } from "effect"
import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  OpenApi
} from "effect/http-api"
import { OrderId, PageQuery, Sku } from "../Common.ts"
import { HealthApi } from "../Health.ts"
import {
  IdempotencyKeyInFlight,
  IdempotencyKeyReused,
  InsufficientScopeResponse,
  InvalidCursor,
  OrderNotCancellable,
  OrderNotFound,
  ProductNotFound
} from "./Errors.ts"
import { Authentication, LoadShedding, RateLimit, RouteTimeout } from "./Middleware.ts"
import {
  IdempotencyKey,
  OrderAccepted,
  OrderPage,
  Order,
  OrderPlaced,
  PlaceOrder,
  Product,
  ProductPage,
  SetStock
} from "./Schemas.ts"

/** 202 with `Location: /v1/orders/{id}`, where the order's outcome can be read. */
export const OrderAcceptedResponse = OrderAccepted.pipe(
  // The status must be on the body: `encodeToWithHeaders` takes status and encoding from it.
  HttpApiSchema.encodeToWithHeaders(
    { body: OrderAccepted.pipe(HttpApiSchema.status(202)), headers: { location: Schema.String } },
    {
      decode: ({ body }) => body,
      encode: (order) => ({ body: order, headers: { location: `/v1/orders/${order.id}` } })
    }
  )
)

const bySku = { sku: Sku }
const byOrder = { id: OrderId }

export class ProductsApi extends HttpApiGroup.make("products")
  .add(
    HttpApiEndpoint.get("list", "/v1/products", {
      query: PageQuery,
      success: ProductPage,
      error: InvalidCursor
    }).annotateMerge(
      OpenApi.annotations({
        summary: "List products",
        description: "The catalog in SKU order, `limit` (1..100, default 20) per page."
      })
    ),
    HttpApiEndpoint.get("get", "/v1/products/:sku", {
      params: bySku,
      success: Product,
      error: ProductNotFound
    }).annotateMerge(OpenApi.annotations({ summary: "Get a product" })),
    HttpApiEndpoint.put("setStock", "/v1/products/:sku/stock", {
      params: bySku,
      payload: SetStock,
      success: Product,
      error: [ProductNotFound, InsufficientScopeResponse]
    }).annotateMerge(
      OpenApi.annotations({ summary: "Set a product's stock", description: "Needs the `admin` scope." })
    )
  )
  .middleware(RouteTimeout)
  .middleware(RateLimit)
  .middleware(Authentication)
  .middleware(LoadShedding)
  .annotateMerge(OpenApi.annotations({ title: "Products", description: "The catalog and its stock" })) {}

export class OrdersApi extends HttpApiGroup.make("orders")
  .add(
    HttpApiEndpoint.post("place", "/v1/orders", {
      headers: { "idempotency-key": IdempotencyKey },
      payload: PlaceOrder,
      success: [OrderPlaced.pipe(HttpApiSchema.status(201)), OrderAcceptedResponse],
      error: [IdempotencyKeyReused, IdempotencyKeyInFlight]
    }).annotateMerge(
      OpenApi.annotations({
        summary: "Place an order",
        description:
          "Needs an `Idempotency-Key` (1..255 printable ASCII characters): repeating a request " +
          "with the same key and body answers the same order, with the same key and another body " +
          "is 422, and while the first is in progress 409. Answers 201 with the order in its final " +
          "state when it is decided quickly, else 202 with the PENDING order and `Location`."
      })
    ),
    HttpApiEndpoint.get("get", "/v1/orders/:id", {
      params: byOrder,
      success: Order,
      error: OrderNotFound
    }).annotateMerge(OpenApi.annotations({ summary: "Get one of your orders" })),
    HttpApiEndpoint.get("list", "/v1/orders", {
      query: PageQuery,
      success: OrderPage,
      error: InvalidCursor
    }).annotateMerge(OpenApi.annotations({ summary: "List your orders", description: "Newest first." })),
    HttpApiEndpoint.post("cancel", "/v1/orders/:id/cancel", {
      params: byOrder,
      success: Order,
      error: [OrderNotFound, OrderNotCancellable]
    }).annotateMerge(
      OpenApi.annotations({
        summary: "Cancel one of your orders",
        description: "Refunds and restocks a confirmed order; cancelling a cancelled order answers it again."
      })
    )
  )
  .middleware(RouteTimeout)
  .middleware(RateLimit)
  .middleware(Authentication)
  .middleware(LoadShedding)
  .annotateMerge(OpenApi.annotations({ title: "Orders", description: "Your orders" })) {}

const description = `The public API of the Acme shop.

**Authentication**: every \`/v1\` operation needs \`Authorization: Bearer <JWT>\`. A missing or
invalid token is 401 with a \`WWW-Authenticate\` challenge (RFC 6750); an operation that needs a
scope the token lacks (\`admin\` to set stock) is 403.

**Limits**: each caller has a token-bucket rate limit (429 with \`Retry-After\` and
\`RateLimit-*\` headers); a gateway at its limit of requests in flight answers 503 with
\`Retry-After\` at once; request bodies are limited in size (413); every operation has a time
budget (504).

**Errors** are RFC 9457 problems (\`application/problem+json\`), told apart by \`type\`; invalid
requests are 400 with the offending fields in \`errors\`.`

/** The public HTTP API of the gateway: `/v1` plus health. */
export class GatewayApi extends HttpApi.make("gateway")
  .add(HealthApi)
  .add(ProductsApi)
  .add(OrdersApi)
  .middleware(HttpApiMiddleware.ProblemDetails)
  .annotateMerge(OpenApi.annotations({ title: "Acme API", version: "1.0.0", description }))
  .annotate(HttpApi.ParseOptions, { errors: "all" }) {}
