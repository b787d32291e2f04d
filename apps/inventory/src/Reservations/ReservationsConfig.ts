/** The settings of reservations and their sweeper, read from the environment at start. */
import { Config, Duration, Schema } from "effect"

const positiveDuration = (name: string, fallback: Duration.Duration) =>
  Config.schema(
    Schema.DurationFromString.check(
      Schema.makeFilter((duration: Duration.Duration) =>
        Duration.isGreaterThan(duration, Duration.zero) ? undefined : "Expected a duration longer than 0"
      )
    ),
    name
  ).pipe(Config.withDefault(fallback))

/** How long a reservation holds its stock unless committed. */
export const reservationTtl = positiveDuration("RESERVATION_TTL", Duration.minutes(15))

/** How often the sweeper looks for expired reservations. */
export const sweepInterval = positiveDuration("RESERVATION_SWEEP_INTERVAL", Duration.seconds(30))

/** How many expired reservations the sweeper releases per transaction. */
export const sweepBatchSize = Config.schema(
  Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10_000 })),
  "RESERVATION_SWEEP_BATCH"
).pipe(Config.withDefault(100))
