/** The outbox relay's settings, read from the environment at start. */
import { Config, Duration } from "effect"
import { boundedInt, positiveDuration } from "../Settings.ts"

export const outboxConfig = Config.all({
  /** Relay workers per instance; each holds one database connection while it delivers. */
  concurrency: boundedInt("OUTBOX_RELAY_CONCURRENCY", 1, 64, 4),
  /** How often an idle worker looks for due rows (LISTEN/NOTIFY wakes it sooner). */
  pollInterval: positiveDuration("OUTBOX_POLL_INTERVAL", Duration.seconds(1)),
  /** Delivery attempts of a forward step before it is dead-lettered. */
  maxAttempts: boundedInt("OUTBOX_MAX_ATTEMPTS", 1, 1000, 8),
  /** Upper bound of the first retry's delay (full jitter), doubling per attempt. */
  backoffBase: positiveDuration("OUTBOX_BACKOFF_BASE", Duration.millis(500)),
  /** Cap on any retry delay. */
  backoffMax: positiveDuration("OUTBOX_BACKOFF_MAX", Duration.seconds(30)),
  /** How long finished rows (done, dead, superseded) are kept. */
  retention: positiveDuration("OUTBOX_RETENTION", Duration.days(7))
})
export type OutboxSettings = typeof outboxConfig extends Config.Config<infer A> ? A : never
