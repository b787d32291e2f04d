import { HttpApi, HttpApiMiddleware, OpenApi } from "effect/http-api"
import { HealthApi } from "../Health.ts"

/** The HTTP API of the order service. */
export class OrderApi extends HttpApi.make("order")
  .add(HealthApi)
  .middleware(HttpApiMiddleware.ProblemDetails)
  .annotateMerge(OpenApi.annotations({ title: "order service", version: "0.1.0" })) {}
