/**
 * The gateway's settings, read and validated once at start (a bad value stops it, naming the
 * variable). The kit's (`PORT`, `REQUEST_TIMEOUT`, ...) are `@acme/server`'s, the pooled
 * transport's (`HTTP_CLIENT_*`) `@acme/pool`'s, and token verification's (`JWT_*`) are read by
 * `Auth/JwtConfig.ts`.
 *
 * | variable                        | default                 | meaning                                                  |
 * | ------------------------------- | ----------------------- | -------------------------------------------------------- |
 * | `INVENTORY_URL`                 | `http://127.0.0.1:8082` | base URL of the inventory service                        |
 * | `ORDER_URL`                     | `http://127.0.0.1:8081` | base URL of the order service                            |
 * | `INVENTORY_TIMEOUT`             | `2 seconds`             | bound on one attempt at inventory                        |
 * | `ORDER_TIMEOUT`                 | `4 seconds`             | bound on one attempt at order (placing waits ~2 s)       |
 * | `CIRCUIT_BREAKER_FAILURES`      | 5                       | failed attempts in a row that open a downstream's circuit |
 * | `CIRCUIT_BREAKER_OPEN_DURATION` | `10 seconds`            | how long an open circuit fails fast before one probe     |
 * | `DOWNSTREAM_MAX_CONCURRENT`     | 128                     | calls in flight per downstream; beyond, 503 at once      |
 * | `MAX_IN_FLIGHT`                 | 256                     | `/v1` requests processed at once; beyond, 503 at once    |
 * | `RATE_LIMIT_PER_SECOND`         | 20                      | tokens added to each caller's bucket per second          |
 * | `RATE_LIMIT_BURST`              | 40                      | bucket size: requests a caller may make at once          |
 * | `REDIS_URL`                     | (none: in memory)       | Redis shared by the replicas for the rate limit          |
 * | `ROUTE_TIMEOUT_READ`            | `5 seconds`             | budget of the GET operations                             |
 * | `ROUTE_TIMEOUT_WRITE`           | `8 seconds`             | budget of placing and cancelling orders, setting stock   |
 * | `HSTS_MAX_AGE`                  | `0 seconds` (off)       | `Strict-Transport-Security: max-age` when positive       |
 * | `CORS_ORIGINS`                  | (empty: CORS off)       | comma-separated allowed origins, or `*`                  |
 */
import { Settings } from "@acme/pool"
import { Downstream } from "@acme/resilience"
import { Config, Duration } from "effect"

const downstream = (name: "INVENTORY" | "ORDER", url: string, timeout: Duration.Input) =>
  Config.all({
    url: Config.URL(`${name}_URL`).pipe(Config.withDefault(new URL(url))),
    policy: Downstream.settings(name, timeout),
    maxConcurrent: Settings.boundedInt("DOWNSTREAM_MAX_CONCURRENT", 1, 100_000, 128)
  })

export const inventory = downstream("INVENTORY", "http://127.0.0.1:8082", "2 seconds")
export const order = downstream("ORDER", "http://127.0.0.1:8081", "4 seconds")

export const overload = Config.all({
  maxInFlight: Settings.boundedInt("MAX_IN_FLIGHT", 1, 1_000_000, 256),
  readTimeout: Settings.positiveDuration("ROUTE_TIMEOUT_READ", "5 seconds"),
  writeTimeout: Settings.positiveDuration("ROUTE_TIMEOUT_WRITE", "8 seconds")
})

export const rateLimit = Config.all({
  ratePerSecond: Settings.positiveNumber("RATE_LIMIT_PER_SECOND", 20),
  burst: Settings.boundedInt("RATE_LIMIT_BURST", 1, 1_000_000_000, 40),
  redisUrl: Config.option(Config.URL("REDIS_URL"))
})

export interface SecuritySettings {
  readonly hstsMaxAge: Duration.Duration
  readonly corsOrigins: ReadonlyArray<string>
}

export const security: Config.Config<SecuritySettings> = Config.all({
  hstsMaxAge: Config.Duration("HSTS_MAX_AGE").pipe(Config.withDefault(Duration.zero)),
  corsOrigins: Config.String("CORS_ORIGINS").pipe(
    Config.withDefault(""),
    Config.map((value) =>
      value
        .split(",")
        .map((origin) => origin.trim())
        .filter((origin) => origin !== "")
    )
  )
})

/** Every setting, read once at start so that a bad value stops the gateway before it serves. */
export const all = Config.all({ inventory, order, overload, rateLimit, security })
