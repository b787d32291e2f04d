/** The outbox relay's settings, read from the environment at start. */
import { Config, Duration } from "effect"
import { boundedInt, positiveDuration } from "../Settings.ts"

export const outboxConfig = Config.all({
  /**
   * Deliveries in flight at once per instance. A delivery holds no database connection (only
   * its claim and its record, each a short transaction, do), so this bounds downstream calls
   * and memory, not the pool.
   */
  maxInFlight: boundedInt("OUTBOX_MAX_IN_FLIGHT", 1, 10_000, 256),
  /** Most rows one claim takes. */
  claimBatch: boundedInt("OUTBOX_CLAIM_BATCH", 1, 1000, 64),
  /**
   * How long a claimed row is reserved for its relay. A relay that crashed or stalled loses the
   * row when its lease runs out, and another relay delivers it again; a delivery taking longer
   * than half of this is cut short (and retried).
   */
  lease: positiveDuration("OUTBOX_LEASE", Duration.seconds(30)),
  /** How often an idle relay looks for due rows: retries, expired leases, rows of stopped replicas. */
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
