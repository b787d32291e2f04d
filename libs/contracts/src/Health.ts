/**
 * Health endpoints that every service serves: liveness says the process is up, readiness says
 * whether it should receive traffic (its dependencies answer and it is not shutting down).
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiError, HttpApiGroup } from "effect/http-api"
import { problemFields, problemType } from "./Problem.ts"

export const CheckStatus = Schema.Literals(["up", "down"])

/** The outcome of each readiness check, by name (e.g. `database`). */
export const Checks = Schema.Record(Schema.String, CheckStatus)

export class NotReady extends HttpApiError.Problem<NotReady>()(
  "NotReady",
  { type: problemType("not-ready"), status: 503, title: "Service not ready" },
  { ...problemFields, draining: Schema.Boolean, checks: Checks }
) {}

export class HealthApi extends HttpApiGroup.make("health").add(
  HttpApiEndpoint.get("live", "/health/live", {
    success: Schema.Struct({ status: Schema.Literal("ok") })
  }),
  HttpApiEndpoint.get("ready", "/health/ready", {
    success: Schema.Struct({ status: Schema.Literal("ready"), checks: Checks }),
    error: NotReady
  })
) {}
