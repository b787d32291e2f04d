import { assert, describe, it } from "@effect/vitest"
import type { Config } from "effect"
import { ConfigProvider, Duration, Effect } from "effect"
import { reservationTtl, sweepBatchSize, sweepInterval } from "../src/Settings.ts"

const read = <A>(config: Config.Config<A>, env: Record<string, string>) =>
  config.parse(ConfigProvider.fromUnknown(env))

describe("reservation settings", () => {
  it.effect("default to a 15 minute TTL, a 30 second sweep and batches of 100", () =>
    Effect.gen(function* () {
      assert.isTrue(Duration.equals(yield* read(reservationTtl, {}), Duration.minutes(15)))
      assert.isTrue(Duration.equals(yield* read(sweepInterval, {}), Duration.seconds(30)))
      assert.strictEqual(yield* read(sweepBatchSize, {}), 100)
      assert.isTrue(
        Duration.equals(yield* read(reservationTtl, { RESERVATION_TTL: "2 minutes" }), Duration.minutes(2))
      )
    })
  )

  it.effect("refuse a value that is malformed or not positive, naming the variable", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [Config.Config<unknown>, string, string]> = [
        [reservationTtl, "RESERVATION_TTL", "soon"],
        [reservationTtl, "RESERVATION_TTL", "0 seconds"],
        [sweepInterval, "RESERVATION_SWEEP_INTERVAL", "0 millis"],
        [sweepBatchSize, "RESERVATION_SWEEP_BATCH", "0"],
        [sweepBatchSize, "RESERVATION_SWEEP_BATCH", "many"]
      ]
      for (const [config, name, value] of cases) {
        const error = yield* Effect.flip(read(config, { [name]: value }))
        assert.include(String(error), name, `${name}=${value}`)
      }
    })
  )
})
