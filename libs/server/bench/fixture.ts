/** A trivial service for benchmarks: the kit serving one endpoint, `GET /ping`. */
import { HealthApi } from "@acme/contracts"
import { Layer, Schema, Effect } from "effect"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpApiMiddleware } from "effect/http-api"
import { Service } from "../src/index.ts"

class PingApi extends HttpApi.make("ping")
  .add(HealthApi)
  .add(
    HttpApiGroup.make("ping").add(
      HttpApiEndpoint.get("ping", "/ping", { success: Schema.Struct({ ok: Schema.Boolean }) })
    )
  )
  .middleware(HttpApiMiddleware.ProblemDetails) {}

const handlers = HttpApiBuilder.group(PingApi, "ping", (h) =>
  h.handle("ping", () => Effect.succeed({ ok: true }))
)

Service.serve({ api: PingApi, handlers }).pipe(
  Layer.provide(Service.platform({ name: "ping", port: 8090 })),
  Service.run
)
