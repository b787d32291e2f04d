import { Layer } from "effect"
import { Products } from "./Products/Products.ts"
import { Reservations } from "./Reservations/Reservations.ts"
import { Sweeper } from "./Reservations/Sweeper.ts"
import { SeedLive } from "./seed.ts"

/**
 * The inventory service's business layers on a migrated database: the services the handlers
 * use, the expiry sweeper, and the demo data (when enabled). Built before the HTTP server, so
 * the seed is in before the first request and the sweeper stops after the server.
 */
export const AppLive = Layer.mergeAll(Products.layer, Reservations.layer, Sweeper.layer, SeedLive)
