/**
 * The order service's settings, read and validated at start (a bad value stops the service,
 * naming the variable). The kit's (`PORT`, ...) are `@acme/server`'s, the database pool's
 * (`DB_*`) and the pooled transport's (`HTTP_CLIENT_*`) `@acme/pool`'s. The outbox relay's
 * (`OUTBOX_*`) are read by `Outbox/OutboxConfig.ts` with the readers below.
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
