import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { Bulkhead, BulkheadFull } from "../src/index.ts"

describe("Bulkhead", () => {
  it.effect("runs maxConcurrent, queues maxQueue, rejects the rest at once", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ name: "inventory", maxConcurrent: 2, maxQueue: 1 })
      const started: Array<number> = []
      const gates = yield* Effect.forEach([0, 1, 2], () => Deferred.make<void>())
      const task = (i: number) =>
        bulkhead.run(
          Effect.suspend(() => {
            started.push(i)
            return Effect.as(Deferred.await(gates[i]), i)
          })
        )

      const fibers = yield* Effect.forEach([0, 1, 2], (i) => Effect.forkChild(task(i)))
      yield* Effect.yieldNow
      assert.deepStrictEqual(started, [0, 1])
      assert.strictEqual(yield* bulkhead.admitted, 3)

      // Capacity (2 running + 1 queued) is used up: rejected without waiting.
      const rejected = yield* Effect.exit(task(0))
      assert.isTrue(Exit.isFailure(rejected))
      const error = Exit.isFailure(rejected) ? rejected.cause.reasons[0] : undefined
      assert.isTrue(error?._tag === "Fail" && error.error instanceof BulkheadFull)
      assert.deepStrictEqual(started, [0, 1])

      // A slot frees: the queued caller runs.
      yield* Deferred.succeed(gates[0], undefined)
      assert.strictEqual(yield* Fiber.join(fibers[0]), 0)
      yield* Effect.yieldNow
      assert.deepStrictEqual(started, [0, 1, 2])

      yield* Deferred.succeed(gates[1], undefined)
      yield* Deferred.succeed(gates[2], undefined)
      assert.deepStrictEqual(yield* Effect.forEach(fibers, Fiber.join), [0, 1, 2])
      assert.strictEqual(yield* bulkhead.admitted, 0)
    })
  )

  it.effect("a queued caller that is interrupted gives its place back", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ name: "payment", maxConcurrent: 1, maxQueue: 1 })
      const gate = yield* Deferred.make<void>()
      const running = yield* Effect.forkChild(bulkhead.run(Deferred.await(gate)))
      const queued = yield* Effect.forkChild(bulkhead.run(Effect.succeed("never")))
      yield* Effect.yieldNow
      assert.strictEqual(yield* bulkhead.admitted, 2)

      yield* Fiber.interrupt(queued)
      assert.strictEqual(yield* bulkhead.admitted, 1)
      const next = yield* Effect.forkChild(bulkhead.run(Effect.succeed("next")))
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(running)
      assert.strictEqual(yield* Fiber.join(next), "next")
      assert.strictEqual(yield* bulkhead.admitted, 0)
    })
  )
})
