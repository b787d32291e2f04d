import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Metric } from "effect"
import { TestClock } from "effect/testing"
import { CircuitOpen, Downstream, Metrics, resilient, RetryPolicy, TimeoutError } from "../src/index.ts"
import { statusError, withFreshMetrics } from "./fixtures.ts"

const count = (name: string, outcome: Metrics.Outcome) =>
  Effect.map(Metric.value(Metrics.callCount(name, outcome)), (s) => s.count)
const attempts = (name: string) => Effect.map(Metric.value(Metrics.retryAttempts(name)), (s) => s.count)
const retries = (name: string) => Effect.map(Metric.value(Metrics.retryRetries(name)), (s) => s.count)

/** Fails with `errors[n]` on call n, then succeeds; counts calls. */
const flaky = (errors: ReadonlyArray<unknown>) => {
  let calls = 0
  const effect = Effect.suspend(() => {
    const error = errors[calls++]
    return error === undefined ? Effect.succeed(calls) : Effect.fail(error)
  })
  return { effect, calls: () => calls }
}

describe("resilient", () => {
  it.effect("retries a transient failure, then succeeds, and records it", () =>
    withFreshMetrics(
      Effect.gen(function* () {
        const inventory = yield* Downstream.make({ name: "inventory", timeout: "1 second" })
        const call = flaky([statusError(503), statusError(502)])
        const fiber = yield* Effect.forkChild(resilient(call.effect, inventory, RetryPolicy.transient))
        // Backoff is at most 100ms then 200ms under RetryPolicy.transient.
        yield* TestClock.adjust("300 millis")
        assert.strictEqual(yield* Fiber.join(fiber), 3)
        assert.strictEqual(call.calls(), 3)

        assert.strictEqual(yield* count("inventory", "success"), 1)
        assert.strictEqual(yield* count("inventory", "failure"), 0)
        assert.strictEqual(yield* attempts("inventory"), 3)
        assert.strictEqual(yield* retries("inventory"), 2)
        const duration = yield* Metric.value(Metrics.callDuration("inventory"))
        assert.strictEqual(duration.count, 1)
        assert.isAtMost(duration.sum, 0.3)
        assert.strictEqual(yield* inventory.circuitBreaker!.state, "closed")
      })
    )
  )

  it.effect("an open breaker short-circuits without calling the effect", () =>
    withFreshMetrics(
      Effect.gen(function* () {
        const payment = yield* Downstream.make({
          name: "payment",
          circuitBreaker: { consecutiveFailures: 2, openDuration: "30 seconds" }
        })
        const failing = flaky([statusError(503), statusError(503)])
        for (let i = 0; i < 2; i++) yield* Effect.exit(resilient(failing.effect, payment, RetryPolicy.none))
        assert.strictEqual(yield* payment.circuitBreaker!.state, "open")

        const healthy = flaky([])
        const exit = yield* Effect.exit(resilient(healthy.effect, payment, RetryPolicy.transient))
        assert.strictEqual(healthy.calls(), 0)
        assert.isTrue(Exit.isFailure(exit) && Exit.findErrorOption(exit)._tag === "Some")
        const error = Exit.isFailure(exit) ? Exit.findErrorOption(exit) : undefined
        assert.isTrue(error?._tag === "Some" && error.value instanceof CircuitOpen)

        assert.strictEqual(yield* count("payment", "failure"), 2)
        assert.strictEqual(yield* count("payment", "circuit_open"), 1)
        assert.strictEqual(yield* count("payment", "success"), 0)
        // The rejected call reached nothing: 2 attempts in all, no retries.
        assert.strictEqual(yield* attempts("payment"), 2)
        assert.strictEqual(yield* retries("payment"), 0)
        const state = yield* Metric.value(Metrics.circuitBreakerState("payment"))
        assert.strictEqual(state.value, 1)
      })
    )
  )

  it.effect("the breaker sees every attempt: it opening stops the retries", () =>
    withFreshMetrics(
      Effect.gen(function* () {
        const orders = yield* Downstream.make({ name: "orders", circuitBreaker: { consecutiveFailures: 2 } })
        const call = flaky(Array.from({ length: 10 }, () => statusError(503)))
        const patient = RetryPolicy.make({
          name: "patient-test",
          maxAttempts: 10,
          baseDelay: "10 millis",
          maxDelay: "10 millis",
          maxElapsed: "1 minute"
        })
        const fiber = yield* Effect.forkChild(Effect.exit(resilient(call.effect, orders, patient)))
        yield* TestClock.adjust("1 second")
        const exit = yield* Fiber.join(fiber)
        // Two real attempts opened the breaker; the third was rejected by it.
        assert.strictEqual(call.calls(), 2)
        const error = Exit.isFailure(exit) ? Exit.findErrorOption(exit) : undefined
        assert.isTrue(error?._tag === "Some" && error.value instanceof CircuitOpen)
        assert.strictEqual(yield* count("orders", "circuit_open"), 1)
        assert.strictEqual(yield* attempts("orders"), 2)
        assert.strictEqual(yield* retries("orders"), 2)
      })
    )
  )

  it.effect("times out each attempt, counts the timeout and retries it", () =>
    withFreshMetrics(
      Effect.gen(function* () {
        const search = yield* Downstream.make({ name: "search", timeout: "100 millis" })
        let calls = 0
        const slowThenFast = Effect.suspend(() =>
          ++calls === 1 ? Effect.as(Effect.sleep("1 minute"), 0) : Effect.succeed(calls)
        )
        const fiber = yield* Effect.forkChild(resilient(slowThenFast, search, RetryPolicy.transient))
        yield* TestClock.adjust("100 millis")
        yield* TestClock.adjust("100 millis")
        assert.strictEqual(yield* Fiber.join(fiber), 2)

        const onlySlow = Effect.as(Effect.sleep("1 minute"), 0)
        const failed = yield* Effect.forkChild(Effect.exit(resilient(onlySlow, search, RetryPolicy.none)))
        yield* TestClock.adjust("100 millis")
        const exit = yield* Fiber.join(failed)
        const error = Exit.isFailure(exit) ? Exit.findErrorOption(exit) : undefined
        assert.isTrue(error?._tag === "Some" && error.value instanceof TimeoutError)
        assert.strictEqual(yield* count("search", "success"), 1)
        assert.strictEqual(yield* count("search", "timeout"), 1)
      })
    )
  )
})
