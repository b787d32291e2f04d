import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Metric } from "effect"
import { TestClock } from "effect/testing"
import { CircuitBreaker, CircuitOpen, Metrics } from "../src/index.ts"
import { statusError, withFreshMetrics } from "./fixtures.ts"

const unavailable = Effect.fail(statusError(503))
const ok = Effect.succeed("ok")

const gauge = (name: string) => Effect.map(Metric.value(Metrics.circuitBreakerState(name)), (s) => s.value)

/** Calls that count how often the protected effect actually ran. */
const counting = <A, E>(effect: Effect.Effect<A, E>) => {
  let runs = 0
  const counted = Effect.suspend(() => {
    runs++
    return effect
  })
  return { effect: counted, runs: () => runs }
}

const circuitOpenOf = (exit: Exit.Exit<unknown, unknown>): CircuitOpen => {
  assert.isTrue(Exit.isFailure(exit))
  const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
  assert.isTrue(error !== undefined && error._tag === "Fail" && error.error instanceof CircuitOpen)
  return (error as { readonly error: CircuitOpen }).error
}

describe("CircuitBreaker", () => {
  it.effect("walks closed -> open -> half-open -> closed, failing fast while open", () =>
    withFreshMetrics(
      Effect.gen(function* () {
        const breaker = yield* CircuitBreaker.make({
          name: "inventory",
          consecutiveFailures: 3,
          openDuration: "10 seconds"
        })
        assert.strictEqual(yield* breaker.state, "closed")
        assert.strictEqual(yield* gauge("inventory"), 0)

        for (let i = 0; i < 2; i++) yield* Effect.exit(breaker.protect(unavailable))
        assert.strictEqual(yield* breaker.state, "closed")
        yield* Effect.exit(breaker.protect(unavailable))
        assert.strictEqual(yield* breaker.state, "open")
        assert.strictEqual(yield* gauge("inventory"), 1)

        // Open: fails at once, without running the effect, telling when to come back.
        yield* TestClock.adjust("4 seconds")
        const call = counting(ok)
        const rejected = circuitOpenOf(yield* Effect.exit(breaker.protect(call.effect)))
        assert.strictEqual(call.runs(), 0)
        assert.strictEqual(rejected.breaker, "inventory")
        assert.strictEqual(rejected.state, "open")
        assert.strictEqual(Duration.toMillis(rejected.retryAfter), 6000)

        // Half-open once the open duration has elapsed: the next call is a probe.
        yield* TestClock.adjust("6 seconds")
        const gate = yield* Deferred.make<void>()
        const probe = yield* Effect.forkChild(breaker.protect(Effect.andThen(Deferred.await(gate), ok)))
        yield* Effect.yieldNow
        assert.strictEqual(yield* breaker.state, "half-open")
        assert.strictEqual(yield* gauge("inventory"), 2)

        yield* Deferred.succeed(gate, undefined)
        assert.strictEqual(yield* Fiber.join(probe), "ok")
        assert.strictEqual(yield* breaker.state, "closed")
        assert.strictEqual(yield* gauge("inventory"), 0)
        assert.strictEqual(yield* breaker.protect(ok), "ok")
      })
    )
  )

  it.effect("reopens when the half-open probe fails", () =>
    withFreshMetrics(
      Effect.gen(function* () {
        const breaker = yield* CircuitBreaker.make({
          name: "payment",
          consecutiveFailures: 1,
          openDuration: "5 seconds"
        })
        yield* Effect.exit(breaker.protect(unavailable))
        assert.strictEqual(yield* breaker.state, "open")
        yield* TestClock.adjust("5 seconds")

        yield* Effect.exit(breaker.protect(unavailable))
        assert.strictEqual(yield* breaker.state, "open")
        assert.strictEqual(yield* gauge("payment"), 1)
        // A new full open period starts from the failed probe.
        const rejected = circuitOpenOf(yield* Effect.exit(breaker.protect(ok)))
        assert.strictEqual(Duration.toMillis(rejected.retryAfter), 5000)
      })
    )
  )

  it.effect("admits at most halfOpenMaxProbes concurrent probes and rejects the rest", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({
        name: "probes",
        consecutiveFailures: 1,
        openDuration: "1 second",
        halfOpenMaxProbes: 2
      })
      yield* Effect.exit(breaker.protect(unavailable))
      yield* TestClock.adjust("1 second")

      const gate = yield* Deferred.make<void>()
      const call = counting(Effect.andThen(Deferred.await(gate), ok))
      const fibers = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        () => Effect.forkChild(Effect.exit(breaker.protect(call.effect)))
      )
      yield* Effect.yieldNow
      assert.strictEqual(call.runs(), 2)
      yield* Deferred.succeed(gate, undefined)
      const exits = yield* Effect.forEach(fibers, Fiber.join)
      assert.strictEqual(exits.filter(Exit.isSuccess).length, 2)
      const rejections = exits.filter(Exit.isFailure).map(circuitOpenOf)
      assert.strictEqual(rejections.length, 18)
      assert.isTrue(rejections.every((r) => r.state === "half-open"))
      assert.strictEqual(yield* breaker.state, "closed")
    })
  )

  it.effect("fails fast for many concurrent callers while open", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({
        name: "busy",
        consecutiveFailures: 2,
        openDuration: "1 minute"
      })
      // Failures arriving concurrently: the ones landing after it opened are ignored.
      const failing = yield* Effect.forEach(
        Array.from({ length: 10 }, (_, i) => i),
        () =>
          Effect.forkChild(
            Effect.exit(breaker.protect(Effect.andThen(Effect.sleep("1 second"), unavailable)))
          )
      )
      yield* TestClock.adjust("1 second")
      yield* Effect.forEach(failing, Fiber.join)
      assert.strictEqual(yield* breaker.state, "open")

      const call = counting(ok)
      const fibers = yield* Effect.forEach(
        Array.from({ length: 100 }, (_, i) => i),
        () => Effect.forkChild(Effect.exit(breaker.protect(call.effect)))
      )
      const exits = yield* Effect.forEach(fibers, Fiber.join)
      assert.strictEqual(call.runs(), 0)
      assert.isTrue(exits.every((exit) => circuitOpenOf(exit).breaker === "busy"))
    })
  )

  it.effect("opens on the failure ratio only once the minimum number of calls is reached", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({
        name: "ratio",
        consecutiveFailures: Infinity,
        failureRatio: { threshold: 0.5, windowSize: 10, minimumCalls: 6 }
      })
      // 3 failures out of 5 calls: 60%, but below the minimum of 6 calls.
      for (const effect of [unavailable, ok, unavailable, ok, unavailable])
        yield* Effect.exit(breaker.protect(effect))
      assert.strictEqual(yield* breaker.state, "closed")
      // 4 out of 6.
      yield* Effect.exit(breaker.protect(unavailable))
      assert.strictEqual(yield* breaker.state, "open")
    })
  )

  it.effect("the window slides: old failures age out", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({
        name: "sliding",
        consecutiveFailures: Infinity,
        failureRatio: { threshold: 0.5, windowSize: 4, minimumCalls: 4 }
      })
      // F F S S S S: the failures leave the window of 4 before a new one lands.
      for (const effect of [unavailable, ok, ok, ok, ok, unavailable, ok, ok]) {
        yield* Effect.exit(breaker.protect(effect))
      }
      assert.strictEqual(yield* breaker.state, "closed")
      yield* Effect.exit(breaker.protect(unavailable))
      assert.strictEqual(yield* breaker.state, "open")
    })
  )

  it.effect("does not count business errors (4xx) by default; counting is configurable", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({ name: "business", consecutiveFailures: 2 })
      for (let i = 0; i < 10; i++) yield* Effect.exit(breaker.protect(Effect.fail(statusError(404))))
      for (let i = 0; i < 10; i++) yield* Effect.exit(breaker.protect(Effect.fail({ status: 422 })))
      assert.strictEqual(yield* breaker.state, "closed")

      const strict = yield* CircuitBreaker.make({
        name: "strict",
        consecutiveFailures: 2,
        isFailure: () => true
      })
      for (let i = 0; i < 2; i++) yield* Effect.exit(strict.protect(Effect.fail(statusError(404))))
      assert.strictEqual(yield* strict.state, "open")
    })
  )

  it.effect("ignores results of calls admitted before a transition", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({
        name: "stale",
        consecutiveFailures: 1,
        openDuration: "1 second"
      })
      // A slow call admitted while closed...
      const slow = yield* Effect.forkChild(
        Effect.exit(breaker.protect(Effect.andThen(Effect.sleep("5 seconds"), unavailable)))
      )
      yield* Effect.yieldNow
      // ...the breaker opens, probes and closes again meanwhile...
      yield* Effect.exit(breaker.protect(unavailable))
      yield* TestClock.adjust("1 second")
      yield* breaker.protect(ok)
      assert.strictEqual(yield* breaker.state, "closed")
      // ...and its late failure must not reopen the recovered breaker.
      yield* TestClock.adjust("4 seconds")
      yield* Fiber.join(slow)
      assert.strictEqual(yield* breaker.state, "closed")
    })
  )
})
