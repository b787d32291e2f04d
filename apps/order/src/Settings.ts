/**
 * The order service's settings, read and validated at start (a bad value stops the service,
 * naming the variable). The kit's (`PORT`, ...) are `@acme/server`'s, the database pool's
 * (`DB_*`) and the pooled transport's (`HTTP_CLIENT_*`) `@acme/pool`'s.
 *
 * | variable                        | default                 | meaning                                                  |
 * | ------------------------------- | ----------------------- | -------------------------------------------------------- |
 * | `INVENTORY_URL`                 | `http://127.0.0.1:8082` | base URL of the inventory service                        |
 * | `PAYMENT_URL`                   | `http://127.0.0.1:8083` | base URL of the payment service                          |
 * | `INVENTORY_TIMEOUT`             | `4 seconds`             | bound on one call to inventory                           |
 * | `PAYMENT_TIMEOUT`               | `4 seconds`             | bound on one call to payment                             |
 * | `CIRCUIT_BREAKER_FAILURES`      | 5                       | failed calls in a row that open a downstream's circuit   |
 * | `CIRCUIT_BREAKER_OPEN_DURATION` | `10 seconds`            | how long an open circuit fails fast before one probe     |
 * | `ORDER_RESULT_WAIT`             | `2 seconds`             | placing (cancelling) waits this long for the outcome     |
 * | `ORDER_RESULT_POLL`             | `250 millis`            | a waiting request reads the order this often, besides LISTEN |
 * | `CANCELLATION_WINDOW`           | `30 minutes`            | a CONFIRMED order can be cancelled this long             |
 * | `IDEMPOTENCY_TTL`               | `24 hours`              | how long an idempotency key is remembered                |
 * | `IDEMPOTENCY_LEASE`             | `30 seconds`            | a request in flight holds its key this long (> result wait) |
 * | `IDEMPOTENCY_SWEEP_INTERVAL`    | `10 minutes`            | how often expired keys are deleted                       |
 * | `IDEMPOTENCY_SWEEP_BATCH`       | 1000                    | expired keys deleted per statement                       |
 * | `OUTBOX_MAX_IN_FLIGHT`          | 256                     | outbox deliveries in flight at once (none holds a connection) |
 * | `OUTBOX_CLAIM_BATCH`            | 64                      | most outbox rows one claim takes                         |
 * | `OUTBOX_LEASE`                  | `30 seconds`            | a claimed row's lease; a delivery gets half of it (> 2x timeouts) |
 * | `OUTBOX_POLL_INTERVAL`          | `1 second`              | the relay looks for due rows this often, besides NOTIFY  |
 * | `OUTBOX_MAX_ATTEMPTS`           | 8                       | attempts of a forward step before it is dead-lettered    |
 * | `OUTBOX_BACKOFF_BASE`           | `500 millis`            | bound of the first retry delay (full jitter), doubling   |
 * | `OUTBOX_BACKOFF_MAX`            | `30 seconds`            | cap on any retry delay                                   |
 * | `OUTBOX_RETENTION`              | `7 days`                | finished outbox rows are deleted after this (hourly)     |
 */
import { Settings } from "@acme/pool"
import { Downstream } from "@acme/resilience"
import { Config } from "effect"

export const { boundedInt, positiveDuration } = Settings

const downstream = (name: "INVENTORY" | "PAYMENT", url: string) =>
  Config.all({
    url: Config.URL(`${name}_URL`).pipe(Config.withDefault(new URL(url))),
    policy: Downstream.settings(name, "4 seconds")
  })

export const inventory = downstream("INVENTORY", "http://127.0.0.1:8082")
export const payment = downstream("PAYMENT", "http://127.0.0.1:8083")

export const orders = Config.all({
  resultWait: positiveDuration("ORDER_RESULT_WAIT", "2 seconds"),
  resultPoll: positiveDuration("ORDER_RESULT_POLL", "250 millis"),
  cancellationWindow: positiveDuration("CANCELLATION_WINDOW", "30 minutes")
})

export const idempotency = Config.all({
  ttl: positiveDuration("IDEMPOTENCY_TTL", "24 hours"),
  lease: positiveDuration("IDEMPOTENCY_LEASE", "30 seconds"),
  sweepInterval: positiveDuration("IDEMPOTENCY_SWEEP_INTERVAL", "10 minutes"),
  sweepBatch: boundedInt("IDEMPOTENCY_SWEEP_BATCH", 1, 100_000, 1000)
})

/** The outbox relay (see `Outbox/Relay.ts`). */
export const outbox = Config.all({
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
   * than half of this is cut short (and retried): keep it above twice the downstream timeouts.
   */
  lease: positiveDuration("OUTBOX_LEASE", "30 seconds"),
  /** How often an idle relay looks for due rows: retries, expired leases, rows of stopped replicas. */
  pollInterval: positiveDuration("OUTBOX_POLL_INTERVAL", "1 second"),
  /** Delivery attempts of a forward step before it is dead-lettered. */
  maxAttempts: boundedInt("OUTBOX_MAX_ATTEMPTS", 1, 1000, 8),
  /** Upper bound of the first retry's delay (full jitter), doubling per attempt. */
  backoffBase: positiveDuration("OUTBOX_BACKOFF_BASE", "500 millis"),
  /** Cap on any retry delay. */
  backoffMax: positiveDuration("OUTBOX_BACKOFF_MAX", "30 seconds"),
  /** How long finished rows (done, dead, superseded) are kept. */
  retention: positiveDuration("OUTBOX_RETENTION", "7 days")
})
