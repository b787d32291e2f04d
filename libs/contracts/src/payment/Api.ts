import { HttpApi, HttpApiMiddleware, OpenApi } from "effect/http-api"
import { HealthApi } from "../Health.ts"

/** The HTTP API of the payment service. */
export class PaymentApi extends HttpApi.make("payment")
  .add(HealthApi)
  .middleware(HttpApiMiddleware.ProblemDetails)
  .annotateMerge(OpenApi.annotations({ title: "payment service", version: "0.1.0" })) {}
