import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { TestClock } from "effect/testing"
import { RateLimiter } from "../src/index.ts"

const admittedCount = (limiter: RateLimiter.RateLimiter, key: string, tries: number) =>
  Effect.map(
    Effect.forEach(
      Array.from({ length: tries }, (_, i) => i),
      () => limiter.take(key)
    ),
    (decisions) => decisions.filter((d) => d._tag === "Admitted").length
  )

describe("RateLimiter", () => {
  it.effect("admits exactly burst, then rate per interval, and says how long to wait", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ rate: 2, interval: "1 second", burst: 5 })
      assert.strictEqual(yield* admittedCount(limiter, "tenant-a", 8), 5)

      const limited = yield* limiter.take("tenant-a")
      assert.strictEqual(limited._tag, "Limited")
      assert.strictEqual(limited._tag === "Limited" ? Duration.toMillis(limited.retryAfter) : -1, 500)

      for (let second = 0; second < 3; second++) {
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* admittedCount(limiter, "tenant-a", 5), 2)
      }
      // Half an interval refills one token.
      yield* TestClock.adjust("500 millis")
      assert.strictEqual(yield* admittedCount(limiter, "tenant-a", 5), 1)
      // Keys do not share buckets.
      assert.strictEqual(yield* admittedCount(limiter, "tenant-b", 8), 5)
      // A long pause refills up to burst, not beyond.
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(yield* admittedCount(limiter, "tenant-a", 8), 5)
    })
  )

  it.effect("evicts idle keys and never holds more than maxKeys", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({
        rate: 1,
        interval: "1 second",
        burst: 1,
        idleTimeout: "10 seconds",
        maxKeys: 100
      })
      for (let i = 0; i < 1000; i++) yield* limiter.take(`client-${i}`)
      assert.strictEqual(yield* limiter.size, 100)

      yield* TestClock.adjust("5 seconds")
      yield* limiter.take("recent")
      assert.strictEqual(yield* limiter.size, 100)

      // Ten seconds after the flood, only "recent" (5s old) and the new key remain.
      yield* TestClock.adjust("5 seconds")
      yield* limiter.take("new")
      assert.strictEqual(yield* limiter.size, 2)

      // A live key keeps its bucket: "new" used its only token a moment ago.
      yield* TestClock.adjust("1 millis")
      const again = yield* limiter.take("new")
      assert.strictEqual(again._tag, "Limited")
    })
  )
})
