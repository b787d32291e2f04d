/**
 * The readers the services' `Settings.ts` modules (and this lib) read their settings with: a bad
 * value stops a service at start, naming the variable.
 */
import { Config, Duration, Schema } from "effect"

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
