import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Ref } from "effect"
import { TestClock } from "effect/testing"
import { Timeout } from "../src/index.ts"

const timedOut = () => Effect.succeed("timed out")

describe("Timeout.orElse", () => {
  it.live("an effect within its time gives its own outcome", () =>
    Effect.gen(function* () {
      const slowish = Effect.as(Effect.sleep("20 millis"), "done")
      assert.strictEqual(yield* Timeout.orElse(slowish, { duration: "1 second", orElse: timedOut }), "done")
      const failing = Effect.andThen(Effect.sleep("20 millis"), Effect.fail("boom"))
      assert.strictEqual(
        yield* Effect.flip(Timeout.orElse(failing, { duration: "1 second", orElse: timedOut })),
        "boom"
      )
      assert.strictEqual(
        yield* Timeout.orElse(Effect.succeed("at once"), { duration: "1 second", orElse: timedOut }),
        "at once"
      )
    })
  )

  it.live("past its time the effect is interrupted, its finalizers run, then orElse", () =>
    Effect.gen(function* () {
      const steps = yield* Ref.make<ReadonlyArray<string>>([])
      const step = (name: string) => Ref.update(steps, (all) => [...all, name])
      const hung = Effect.onInterrupt(Effect.never, () =>
        Effect.andThen(Effect.sleep("30 millis"), step("finalizer"))
      )
      const started = Date.now()
      const result = yield* Timeout.orElse(hung, {
        duration: "50 millis",
        orElse: () => Effect.as(step("orElse"), "timed out")
      })
      assert.strictEqual(result, "timed out")
      assert.deepStrictEqual(yield* Ref.get(steps), ["finalizer", "orElse"])
      assert.isAtLeast(Date.now() - started, 50)
    })
  )

  it.live("interrupting the caller interrupts the effect", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const hung = Deferred.succeed(started, undefined).pipe(
        Effect.andThen(Effect.never),
        Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
      )
      const caller = yield* Effect.forkChild(
        Timeout.orElse(hung, { duration: "10 seconds", orElse: timedOut })
      )
      yield* Deferred.await(started)
      yield* Fiber.interrupt(caller)
      assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(caller)))
      assert.isTrue(yield* Deferred.isDone(interrupted))
    })
  )

  it.live("a bound longer than a timer can wait does not fire at once", () =>
    Effect.gen(function* () {
      for (const duration of [Duration.days(30), Duration.infinity]) {
        const slowish = Effect.as(Effect.sleep("30 millis"), "done")
        assert.strictEqual(yield* Timeout.orElse(slowish, { duration, orElse: timedOut }), "done")
      }
    })
  )

  it.effect("on a clock of its own (TestClock) it times out on that clock", () =>
    Effect.gen(function* () {
      const call = yield* Effect.forkChild(
        Timeout.orElse(Effect.never, { duration: "5 seconds", orElse: timedOut })
      )
      yield* TestClock.adjust("4 seconds")
      assert.isUndefined(call.pollUnsafe())
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(call), "timed out")
    })
  )
})
