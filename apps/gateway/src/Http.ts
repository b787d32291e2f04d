/**
 * The gateway's HTTP API, served by the service kit: the `/v1` handlers and the middleware of
 * the contract (load shedding, authentication, rate limit, route timeouts), Swagger UI at
 * `/docs`, and the security headers. The downstream clients are built here too: each registers
 * a readiness check, so `/health/ready` is up only when the downstreams are ready.
 */
import { GatewayApi } from "@acme/contracts/gateway"
import { ServiceClient } from "@acme/pool"
import { Service } from "@acme/server"
import { Layer } from "effect"
import { HttpApiSwagger } from "effect/http-api"
import { AuthenticationLive } from "./Auth/Authentication.ts"
import { JwtVerifier } from "./Auth/Jwt.ts"
import { InventoryDownstream, OrderDownstream } from "./Downstream/Downstreams.ts"
import { Orders } from "./Orders/Orders.ts"
import { OrdersHttp } from "./Orders/OrdersHttp.ts"
import { LoadSheddingLive } from "./Overload/LoadShedding.ts"
import { RateLimitLive } from "./Overload/RateLimit.ts"
import { RouteTimeoutLive } from "./Overload/RouteTimeout.ts"
import { Products } from "./Products/Products.ts"
import { ProductsHttp } from "./Products/ProductsHttp.ts"
import { docsPath, SecurityHeadersLive } from "./SecurityHeaders.ts"

/** The downstream services, sharing one pooled HTTP client. */
export const DownstreamLive = Layer.mergeAll(InventoryDownstream.layer, OrderDownstream.layer).pipe(
  Layer.provide(ServiceClient.layer)
)

/** The contract's middleware, in the order the contract applies it. */
export const MiddlewareLive = Layer.mergeAll(
  LoadSheddingLive,
  AuthenticationLive.pipe(Layer.provide(JwtVerifier.layer)),
  RateLimitLive,
  RouteTimeoutLive
)

export const HandlersLive = Layer.mergeAll(ProductsHttp, OrdersHttp).pipe(
  Layer.provide(Layer.mergeAll(Products.layer, Orders.layer)),
  Layer.provide(DownstreamLive)
)

/**
 * Routes and router middleware beyond the contract's handlers. The kit's `serve` takes one
 * layer for the handlers and builds it within the router, so these ride along with them.
 */
const ExtrasLive = Layer.mergeAll(HttpApiSwagger.layer(GatewayApi, { path: docsPath }), SecurityHeadersLive)

export const HttpLive = Service.serve({
  api: GatewayApi,
  handlers: Layer.mergeAll(HandlersLive, ExtrasLive)
}).pipe(Layer.provide(MiddlewareLive))
