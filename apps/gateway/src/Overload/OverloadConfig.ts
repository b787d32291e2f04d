/**
 * Overload protection settings, from the environment (defaults next to each key):
 *
 * | variable                | default      | meaning                                               |
 * | ----------------------- | ------------ | ----------------------------------------------------- |
 * | `MAX_IN_FLIGHT`         | 256          | `/v1` requests processed at once; beyond, 503 at once |
 * | `RATE_LIMIT_PER_SECOND` | 20           | tokens added to each caller's bucket per second       |
 * | `RATE_LIMIT_BURST`      | 40           | bucket size: requests a caller may make at once       |
 * | `ROUTE_TIMEOUT_READ`    | `5 seconds`  | budget of the GET operations                          |
 * | `ROUTE_TIMEOUT_WRITE`   | `8 seconds`  | budget of placing and cancelling orders, setting stock |
 */
import { Config, Duration, Schema } from "effect"

export interface OverloadSettings {
  readonly maxInFlight: number
  readonly ratePerSecond: number
  readonly burst: number
  readonly readTimeout: Duration.Duration
  readonly writeTimeout: Duration.Duration
}

const positiveInt = (name: string) => Config.schema(Schema.Int.check(Schema.isGreaterThan(0)), name)

const positiveNumber = (name: string) => Config.schema(Schema.Finite.check(Schema.isGreaterThan(0)), name)

export const config: Config.Config<OverloadSettings> = Config.all({
  maxInFlight: positiveInt("MAX_IN_FLIGHT").pipe(Config.withDefault(256)),
  ratePerSecond: positiveNumber("RATE_LIMIT_PER_SECOND").pipe(Config.withDefault(20)),
  burst: positiveInt("RATE_LIMIT_BURST").pipe(Config.withDefault(40)),
  readTimeout: Config.Duration("ROUTE_TIMEOUT_READ").pipe(Config.withDefault(Duration.seconds(5))),
  writeTimeout: Config.Duration("ROUTE_TIMEOUT_WRITE").pipe(Config.withDefault(Duration.seconds(8)))
})
