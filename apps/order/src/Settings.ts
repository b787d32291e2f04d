/** Config readers shared by the features' settings: positive durations and bounded integers. */
import { Config, Duration, Schema } from "effect"

/** A duration longer than 0, e.g. `2 seconds`, with its default. */
export const positiveDuration = (name: string, fallback: Duration.Duration) =>
  Config.schema(
    Schema.DurationFromString.check(
      Schema.makeFilter((duration: Duration.Duration) => Duration.isPositive(duration), {
        expected: "a duration longer than 0"
      })
    ),
    name
  ).pipe(Config.withDefault(fallback))

/** An integer within `[minimum, maximum]`, with its default. */
export const boundedInt = (name: string, minimum: number, maximum: number, fallback: number) =>
  Config.schema(Schema.Int.check(Schema.isBetween({ minimum, maximum })), name).pipe(
    Config.withDefault(fallback)
  )
