import { HttpApi, HttpApiMiddleware, OpenApi } from "effect/http-api"
import { HealthApi } from "../Health.ts"

/** The HTTP API of the gateway service. */
export class GatewayApi extends HttpApi.make("gateway")
  .add(HealthApi)
  .middleware(HttpApiMiddleware.ProblemDetails)
  .annotateMerge(OpenApi.annotations({ title: "gateway service", version: "0.1.0" })) {}
