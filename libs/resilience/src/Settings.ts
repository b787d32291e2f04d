/**
 * Readers for the services' settings modules, so every service validates the same way (a bad
 * value stops the service at start, naming the variable), and the policy settings of a
 * downstream, named alike in every service:
 *
 * | variable                        | default      | meaning                                   |
 * | ------------------------------- | ------------ | ----------------------------------------- |
 * | `<NAME>_TIMEOUT`                | per service  | bound on one attempt                      |
 * | `CIRCUIT_BREAKER_FAILURES`      | 5            | failed attempts in a row that open it     |
 * | `CIRCUIT_BREAKER_OPEN_DURATION` | `10 seconds` | how long it fails fast before one probe   |
 */
import { Config, Duration, Schema } from "effect"
import type { Policy } from "./Downstream.ts"

/** A duration longer than 0, e.g. `2 seconds`. */
export const positiveDuration = (name: string, fallback: Duration.Input) =>
  Config.schema(
    Schema.DurationFromString.check(
      Schema.makeFilter((duration: Duration.Duration) => Duration.isPositive(duration), {
        expected: "a duration longer than 0"
      })
    ),
    name
  ).pipe(Config.withDefault(Duration.fromInputUnsafe(fallback)))

/** An integer within `[minimum, maximum]`. */
export const boundedInt = (name: string, minimum: number, maximum: number, fallback: number) =>
  Config.schema(Schema.Int.check(Schema.isBetween({ minimum, maximum })), name).pipe(
    Config.withDefault(fallback)
  )

/** A finite number above 0. */
export const positiveNumber = (name: string, fallback: number) =>
  Config.schema(Schema.Finite.check(Schema.isGreaterThan(0)), name).pipe(Config.withDefault(fallback))

/** The timeout and breaker of the downstream `name` (`INVENTORY` reads `INVENTORY_TIMEOUT`). */
export const policy = (name: string, timeout: Duration.Input): Config.Config<Omit<Policy, "retry">> =>
  Config.all({
    timeout: positiveDuration(`${name}_TIMEOUT`, timeout),
    breaker: Config.all({
      failures: boundedInt("CIRCUIT_BREAKER_FAILURES", 1, 1000, 5),
      openDuration: positiveDuration("CIRCUIT_BREAKER_OPEN_DURATION", "10 seconds")
    })
  })
