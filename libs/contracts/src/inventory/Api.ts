import { HttpApi, HttpApiMiddleware, OpenApi } from "effect/http-api"
import { HealthApi } from "../Health.ts"

/** The HTTP API of the inventory service. */
export class InventoryApi extends HttpApi.make("inventory")
  .add(HealthApi)
  .middleware(HttpApiMiddleware.ProblemDetails)
  .annotateMerge(OpenApi.annotations({ title: "inventory service", version: "0.1.0" })) {}
