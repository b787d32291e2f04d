/**
 * Applies the inventory database's migrations (and the demo data when `SEED_DEMO_DATA=true`),
 * then exits: 0 when done, 1 with the reason otherwise. For a deploy step that migrates before
 * the new version starts; the service itself also migrates at start.
 *
 *   DATABASE_URL=postgres://... node apps/inventory/src/migrate.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { layerJsonLogger } from "@acme/metrics"
import { Readiness } from "@acme/server"
import { Effect, Layer } from "effect"
import { SeedLive } from "./seed.ts"
import { SqlLive } from "./Sql.ts"

Effect.logInfo("inventory database migrated").pipe(
  Effect.provide(
    SeedLive.pipe(
      Layer.provideMerge(SqlLive),
      Layer.provide(Readiness.layer),
      Layer.provideMerge(layerJsonLogger("inventory"))
    )
  ),
  NodeRuntime.runMain
)
