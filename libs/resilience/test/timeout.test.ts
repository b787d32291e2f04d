import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Ref } from "effect"
import { TestClock } from "effect/testing"
import { Timeout, TimeoutError } from "../src/index.ts"

describe("Timeout", () => {
  it.effect("interrupts the work so its finalizers have run when TimeoutError is seen", () =>
    Effect.gen(function* () {
      const interrupted = yield* Ref.make(false)
      const finalized = yield* Ref.make(false)
      const work = Effect.never.pipe(
        Effect.onInterrupt(() => Ref.set(interrupted, true)),
        // A finalizer that itself takes time: the timeout must wait for it.
        Effect.ensuring(Effect.andThen(Effect.sleep("100 millis"), Ref.set(finalized, true)))
      )
      const fiber = yield* Effect.forkChild(Effect.flip(Timeout.timeout(work, "1 second")))

      yield* TestClock.adjust("999 millis")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      assert.isTrue(yield* Ref.get(interrupted))
      // Still finalizing: the timeout has not been reported yet.
      assert.isUndefined(fiber.pollUnsafe())
      assert.isFalse(yield* Ref.get(finalized))

      yield* TestClock.adjust("100 millis")
      const error = yield* Fiber.join(fiber)
      assert.isTrue(error instanceof TimeoutError)
      assert.strictEqual(Duration.toMillis(error.duration), 1000)
      assert.isTrue(yield* Ref.get(finalized))
    })
  )

  it.effect("passes through results and failures that arrive in time", () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.forkChild(
        Effect.andThen(Effect.sleep("500 millis"), Effect.succeed(42)).pipe(Timeout.timeout("1 second"))
      )
      yield* TestClock.adjust("500 millis")
      assert.strictEqual(yield* Fiber.join(fiber), 42)

      const failed = yield* Effect.exit(Timeout.timeout(Effect.fail("nope"), "1 second"))
      assert.deepStrictEqual(failed, Exit.fail("nope"))
    })
  )
})
