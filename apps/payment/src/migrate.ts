/**
 * Applies the payment database's migrations and exits (0 when done, 1 with the reason when
 * not): for a deploy step or an init container that migrates before the new version starts.
 * The service itself also migrates at start, so running this first is optional.
 */
import { layerJsonLogger } from "@acme/metrics"
import { NodeRuntime } from "@effect/platform-node"
import { Readiness } from "@acme/server"
import { Effect, Layer } from "effect"
import { SqlLive } from "./Sql.ts"

Effect.logInfo("migrations applied").pipe(
  Effect.provide(SqlLive.pipe(Layer.provide(Readiness.layer))),
  Effect.provide(layerJsonLogger("payment")),
  NodeRuntime.runMain
)
