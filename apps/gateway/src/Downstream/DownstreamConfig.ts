/**
 * Where the downstream services are and how hard to try them, from the environment:
 *
 * | variable                        | default                 | meaning                                     |
 * | ------------------------------- | ----------------------- | ------------------------------------------- |
 * | `INVENTORY_URL`                 | `http://127.0.0.1:8082` | base URL of the inventory service           |
 * | `ORDER_URL`                     | `http://127.0.0.1:8081` | base URL of the order service               |
 * | `INVENTORY_TIMEOUT`             | `2 seconds`             | per attempt                                 |
 * | `ORDER_TIMEOUT`                 | `4 seconds`             | per attempt (placing waits ~2 s for the outcome) |
 * | `CIRCUIT_BREAKER_FAILURES`      | 5                       | failed attempts in a row that open a breaker |
 * | `CIRCUIT_BREAKER_OPEN_DURATION` | `10 seconds`            | how long an open breaker fails fast         |
 * | `DOWNSTREAM_MAX_CONCURRENT`     | 128                     | calls in flight per downstream; beyond, 503 |
 *
 * Connection reuse and the whole-exchange timeout are the pool's (`HTTP_CLIENT_*`, see
 * `@acme/pool` `ServiceClient`).
 */
import { Config, Duration, Schema } from "effect"

export interface DownstreamSettings {
  readonly url: URL
  readonly timeout: Duration.Duration
  readonly consecutiveFailures: number
  readonly openDuration: Duration.Duration
  readonly maxConcurrent: number
}

const positiveInt = (name: string) => Config.schema(Schema.Int.check(Schema.isGreaterThan(0)), name)

/** The settings of one downstream: `<PREFIX>_URL` and `<PREFIX>_TIMEOUT`, plus the shared ones. */
export const config = (
  prefix: "INVENTORY" | "ORDER",
  defaults: { readonly url: string; readonly timeout: Duration.Duration }
): Config.Config<DownstreamSettings> =>
  Config.all({
    url: Config.URL(`${prefix}_URL`).pipe(Config.withDefault(new URL(defaults.url))),
    timeout: Config.Duration(`${prefix}_TIMEOUT`).pipe(Config.withDefault(defaults.timeout)),
    consecutiveFailures: positiveInt("CIRCUIT_BREAKER_FAILURES").pipe(Config.withDefault(5)),
    openDuration: Config.Duration("CIRCUIT_BREAKER_OPEN_DURATION").pipe(
      Config.withDefault(Duration.seconds(10))
    ),
    maxConcurrent: positiveInt("DOWNSTREAM_MAX_CONCURRENT").pipe(Config.withDefault(128))
  })
