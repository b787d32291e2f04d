/**
 * The errors of the public API, each an RFC 9457 problem with its own `type`. The internal
 * services' errors are mapped onto these by the gateway: what a client can act on keeps its
 * detail (the SKU that was not found), what is internal (which service failed, reservation
 * states, customer ids) does not cross the boundary.
 *
 * Problems that a client should react to with a header as well as a body carry it on the wire:
 * `WWW-Authenticate` (RFC 6750) on 401 and 403, `Retry-After` on 429 and 503, and the rate-limit
 * headers on 429. Each such response is the only one of its status on an endpoint, which is what
 * lets the client tell it apart.
 */
import { Schema } from "effect"
import { HttpApiError, HttpApiSchema } from "effect/http-api"
import { OrderId, Sku } from "../Common.ts"
import { problemFields, problemType } from "../Problem.ts"
import { OrderStatus } from "./Schemas.ts"

/** The realm named in `WWW-Authenticate` challenges. */
export const realm = "acme"

/** RFC 6750 §3: `error_description` may only hold %x20-21 / %x23-5B / %x5D-7E. */
const challengeText = (text: string) => text.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, "?")

const seconds = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

// ---------------------------------------------------------------------------------------------
// Authentication and authorization
// ---------------------------------------------------------------------------------------------

/**
 * The request carries no usable bearer token. `error` is the RFC 6750 error code: absent when
 * no token was sent at all (RFC 6750 §3.1: no error information for a request that did not try
 * to authenticate), `invalid_token` when one was sent but is malformed, expired, not yet valid,
 * for another audience or issuer, or not signed by a trusted key; `detail` says which.
 */
export class Unauthorized extends HttpApiError.Problem<Unauthorized>()(
  "Unauthorized",
  { type: problemType("unauthorized"), status: 401, title: "Unauthorized" },
  { ...problemFields, error: Schema.optionalKey(Schema.Literal("invalid_token")) }
) {}

/** The `WWW-Authenticate` challenge sent with an {@link Unauthorized}. */
export const unauthorizedChallenge = (error: Unauthorized): string =>
  error.error === undefined
    ? `Bearer realm="${realm}"`
    : `Bearer realm="${realm}", error="${error.error}", error_description="${challengeText(error.message)}"`

/** {@link Unauthorized} as a response: the problem plus its `WWW-Authenticate` challenge. */
export const UnauthorizedResponse = Unauthorized.pipe(
  HttpApiSchema.encodeToWithHeaders(
    { body: Unauthorized, headers: { "www-authenticate": Schema.String } },
    {
      decode: ({ body }) => body,
      encode: (error) => ({ body: error, headers: { "www-authenticate": unauthorizedChallenge(error) } })
    }
  )
)

/** The token is valid but lacks a scope the operation needs (`requiredScope`). */
export class InsufficientScope extends HttpApiError.Problem<InsufficientScope>()(
  "InsufficientScope",
  { type: problemType("insufficient-scope"), status: 403, title: "Insufficient scope" },
  { ...problemFields, requiredScope: Schema.String }
) {}

/** {@link InsufficientScope} as a response, with the RFC 6750 `insufficient_scope` challenge. */
export const InsufficientScopeResponse = InsufficientScope.pipe(
  HttpApiSchema.encodeToWithHeaders(
    { body: InsufficientScope, headers: { "www-authenticate": Schema.String } },
    {
      decode: ({ body }) => body,
      encode: (error) => ({
        body: error,
        headers: {
          "www-authenticate": `Bearer realm="${realm}", error="insufficient_scope", scope="${challengeText(error.requiredScope)}"`
        }
      })
    }
  )
)

// ---------------------------------------------------------------------------------------------
// Overload and availability
// ---------------------------------------------------------------------------------------------

/**
 * The caller sent more requests than its rate limit allows: `limit` requests at once (the bucket
 * size), refilled at `limit` per `windowSeconds`. Retry after `retryAfterSeconds`.
 */
export class TooManyRequests extends HttpApiError.Problem<TooManyRequests>()(
  "TooManyRequests",
  { type: problemType("rate-limited"), status: 429, title: "Too many requests" },
  { ...problemFields, limit: Schema.Int, windowSeconds: seconds, retryAfterSeconds: seconds }
) {}

/**
 * {@link TooManyRequests} as a response: `Retry-After`, and the rate-limit headers of
 * draft-ietf-httpapi-ratelimit-headers in their separate-field form (`RateLimit-Limit`,
 * `RateLimit-Remaining`, `RateLimit-Reset`, plus `RateLimit-Policy`).
 */
export const TooManyRequestsResponse = TooManyRequests.pipe(
  HttpApiSchema.encodeToWithHeaders(
    {
      body: TooManyRequests,
      headers: {
        "retry-after": Schema.String,
        "ratelimit-limit": Schema.String,
        "ratelimit-remaining": Schema.String,
        "ratelimit-reset": Schema.String,
        "ratelimit-policy": Schema.String
      }
    },
    {
      decode: ({ body }) => body,
      encode: (error) => ({
        body: error,
        headers: {
          "retry-after": String(error.retryAfterSeconds),
          "ratelimit-limit": String(error.limit),
          "ratelimit-remaining": "0",
          "ratelimit-reset": String(error.retryAfterSeconds),
          "ratelimit-policy": `${error.limit};w=${error.windowSeconds}`
        }
      })
    }
  )
)

/**
 * The request was not processed: the gateway is at its limit of requests in flight
 * (`overloaded`), or a service it needs is unavailable (`dependency_unavailable`). Nothing was
 * changed; retry after `retryAfterSeconds`, also sent as `Retry-After`.
 */
export class ServiceUnavailable extends HttpApiError.Problem<ServiceUnavailable>()(
  "ServiceUnavailable",
  { type: problemType("service-unavailable"), status: 503, title: "Service unavailable" },
  {
    ...problemFields,
    reason: Schema.Literals(["overloaded", "dependency_unavailable"]),
    retryAfterSeconds: seconds
  }
) {}

/** {@link ServiceUnavailable} as a response: the problem plus `Retry-After`. */
export const ServiceUnavailableResponse = ServiceUnavailable.pipe(
  HttpApiSchema.encodeToWithHeaders(
    { body: ServiceUnavailable, headers: { "retry-after": Schema.String } },
    {
      decode: ({ body }) => body,
      encode: (error) => ({ body: error, headers: { "retry-after": String(error.retryAfterSeconds) } })
    }
  )
)

/**
 * No answer within the operation's time budget. The work was abandoned; for placing an order,
 * retrying with the same `Idempotency-Key` is safe and answers the order if it was placed.
 */
export class GatewayTimeout extends HttpApiError.Problem<GatewayTimeout>()(
  "GatewayTimeout",
  { type: problemType("timeout"), status: 504, title: "Gateway timeout" },
  { ...problemFields }
) {}

// ---------------------------------------------------------------------------------------------
// Products
// ---------------------------------------------------------------------------------------------

export class ProductNotFound extends HttpApiError.Problem<ProductNotFound>()(
  "ProductNotFound",
  { type: problemType("product-not-found"), status: 404, title: "Product not found" },
  { ...problemFields, sku: Sku }
) {}

/** The `cursor` of a list query is not one this API handed out (or it has expired). */
export class InvalidCursor extends HttpApiError.Problem<InvalidCursor>()(
  "InvalidCursor",
  { type: problemType("invalid-cursor"), status: 400, title: "Invalid cursor" },
  { ...problemFields, field: Schema.Literal("cursor") }
) {}

// ---------------------------------------------------------------------------------------------
// Orders
// ---------------------------------------------------------------------------------------------

/** No order with this id belongs to the caller (another caller's order is not found either). */
export class OrderNotFound extends HttpApiError.Problem<OrderNotFound>()(
  "OrderNotFound",
  { type: problemType("order-not-found"), status: 404, title: "Order not found" },
  { ...problemFields, orderId: OrderId }
) {}

/** The order can no longer be cancelled (it is REJECTED, or CONFIRMED too long ago). */
export class OrderNotCancellable extends HttpApiError.Problem<OrderNotCancellable>()(
  "OrderNotCancellable",
  { type: problemType("order-not-cancellable"), status: 409, title: "Order can no longer be cancelled" },
  { ...problemFields, orderId: OrderId, orderStatus: OrderStatus }
) {}

/** The `Idempotency-Key` was used before with a different request body. */
export class IdempotencyKeyReused extends HttpApiError.Problem<IdempotencyKeyReused>()(
  "IdempotencyKeyReused",
  {
    type: problemType("idempotency-key-reused"),
    status: 422,
    title: "Idempotency key reused with another request"
  },
  { ...problemFields }
) {}

/** A request with this `Idempotency-Key` is still being processed; retry once it has finished. */
export class IdempotencyKeyInFlight extends HttpApiError.Problem<IdempotencyKeyInFlight>()(
  "IdempotencyKeyInFlight",
  {
    type: problemType("idempotency-key-in-flight"),
    status: 409,
    title: "A request with this key is in progress"
  },
  { ...problemFields }
) {}
