/**
 * The inventory service's settings, read and validated at start (a bad value stops the service,
 * naming the variable). The kit's (`PORT`, ...) are `@acme/server`'s, the database pool's
 * (`DB_*`) `@acme/pool`'s.
 *
 * | variable                     | default      | meaning                                                |
 * | ---------------------------- | ------------ | ------------------------------------------------------ |
 * | `RESERVATION_TTL`            | `15 minutes` | how long a reservation holds its stock unless committed |
 * | `RESERVATION_SWEEP_INTERVAL` | `30 seconds` | how often the sweeper looks for expired reservations   |
 * | `RESERVATION_SWEEP_BATCH`    | 100          | expired reservations released per transaction          |
 * | `SEED_DEMO_DATA`             | `false`      | insert the demo products that are missing, at start    |
 */
import { Settings } from "@acme/pool"
import { Config } from "effect"

export const reservationTtl = Settings.positiveDuration("RESERVATION_TTL", "15 minutes")
export const sweepInterval = Settings.positiveDuration("RESERVATION_SWEEP_INTERVAL", "30 seconds")
export const sweepBatchSize = Settings.boundedInt("RESERVATION_SWEEP_BATCH", 1, 10_000, 100)
export const seedDemoData = Config.Boolean("SEED_DEMO_DATA").pipe(Config.withDefault(false))
