/**
 * The processor behind its resilience: retries, timeout and circuit breaker, on virtual time
 * (TestClock) and seeded randomness, so every run takes the same path in milliseconds.
 */
import { ProcessorUnavailable } from "@acme/contracts/payment"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Random } from "effect"
import { TestClock } from "effect/testing"
import { decide, defaultSettings } from "../src/Processor/ProcessorSimulated.ts"
import { ProcessorGateway } from "../src/Processor/ProcessorGateway.ts"
import { calls, newId, processorLayer, simulate } from "./fixtures.ts"

const amount = { amount: 1999, currency: "EUR" }

const authorize = ProcessorGateway.use((gateway) =>
  gateway.authorize({ paymentId: newId(), amount, token: "tok_visa" })
)

/** Runs `effect` while virtual time passes (retry backoff, timeouts), and returns its exit. */
const withTime = <A, E, R>(effect: Effect.Effect<A, E, R>, duration: Duration.Input = "10 seconds") =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(effect)
    yield* TestClock.adjust(duration)
    return yield* Fiber.await(fiber)
  })

const failure = <A, E>(exit: Exit.Exit<A, E>) => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  return Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail")?.error : undefined
}

describe("ProcessorGateway", () => {
  it.effect(
    "with every call failing, the breaker opens, fails fast without calling the processor, and recovers",
    () =>
      Effect.gen(function* () {
        const gateway = yield* ProcessorGateway

        // Three attempts (retried as transient), three counted failures: the breaker opens.
        const first = failure(yield* withTime(authorize, "1 second"))
        assert.instanceOf(first, ProcessorUnavailable)
        assert.strictEqual((yield* calls).authorize, 3)
        assert.strictEqual(yield* gateway.breaker, "Open")

        // Open: fails at once, the processor is not called, Retry-After points at the probe.
        for (let i = 0; i < 5; i++) {
          const error = yield* Effect.flip(authorize)
          assert.instanceOf(error, ProcessorUnavailable)
          assert.isAtLeast(error.retryAfterSeconds, 9)
          assert.isAtMost(error.retryAfterSeconds, 10)
        }
        assert.strictEqual((yield* calls).authorize, 3)

        // Half-open after the open duration: one probe reaches the processor, fails, reopens.
        yield* TestClock.adjust("10 seconds")
        assert.instanceOf(failure(yield* withTime(authorize, "1 second")), ProcessorUnavailable)
        assert.strictEqual((yield* calls).authorize, 4)
        assert.strictEqual(yield* gateway.breaker, "Open")

        // The processor recovers; the next probe succeeds and closes the breaker.
        yield* simulate({ errorRate: 0 })
        yield* TestClock.adjust("10 seconds")
        const outcome = yield* authorize
        assert.strictEqual(outcome._tag, "Approved")
        assert.strictEqual(yield* gateway.breaker, "Closed")
        assert.strictEqual((yield* calls).authorize, 5)
        assert.strictEqual((yield* authorize)._tag, "Approved")
      }).pipe(
        Effect.provide(
          processorLayer({
            simulation: { errorRate: 1 },
            env: { CIRCUIT_BREAKER_FAILURES: "3", CIRCUIT_BREAKER_OPEN_DURATION: "10 seconds" }
          })
        )
      )
  )

  it.effect("transient errors at a moderate rate are retried and every authorization succeeds", () =>
    Effect.gen(function* () {
      for (let i = 0; i < 50; i++) {
        const exit = yield* withTime(authorize, "5 seconds")
        assert.isTrue(Exit.isSuccess(exit), `authorization ${i} failed`)
        if (Exit.isSuccess(exit)) assert.strictEqual(exit.value._tag, "Approved")
      }
      // Some attempts failed and were retried: more processor calls than authorizations.
      assert.isAbove((yield* calls).authorize, 50)
      assert.strictEqual(yield* ProcessorGateway.use((gateway) => gateway.breaker), "Closed")
    }).pipe(Random.withSeed("payment"), Effect.provide(processorLayer({ simulation: { errorRate: 0.25 } })))
  )

  it.effect("a processor slower than PROCESSOR_TIMEOUT is cut off per attempt and answers unavailable", () =>
    Effect.gen(function* () {
      const exit = yield* withTime(authorize, "30 seconds")
      assert.instanceOf(failure(exit), ProcessorUnavailable)
      // 1 s per attempt and a 3 s budget for the whole call: three attempts.
      assert.strictEqual((yield* calls).authorize, 3)
    }).pipe(
      Effect.provide(
        processorLayer({
          simulation: { latency: Duration.seconds(5) },
          env: { PROCESSOR_TIMEOUT: "1 second" }
        })
      )
    )
  )

  it.effect("declines are answers, not failures: they are not retried", () =>
    Effect.gen(function* () {
      const outcome = yield* ProcessorGateway.use((gateway) =>
        gateway.authorize({ paymentId: newId(), amount, token: "tok_decline" })
      )
      assert.deepStrictEqual(outcome, { _tag: "Declined", reason: "card_declined" })
      assert.strictEqual((yield* calls).authorize, 1)
    }).pipe(Effect.provide(processorLayer({})))
  )
})

describe("simulated decline rules", () => {
  const settings = { ...defaultSettings, amountLimit: 10_000 }
  it("tok_visa approves up to the amount limit and declines above it", () => {
    assert.strictEqual(decide(settings, { amount: 10_000, currency: "EUR" }, "tok_visa")._tag, "Approved")
    assert.deepStrictEqual(decide(settings, { amount: 10_001, currency: "EUR" }, "tok_visa"), {
      _tag: "Declined",
      reason: "amount_too_large"
    })
  })
  it("test tokens decline with their reason, unknown tokens with invalid_token", () => {
    const reasonOf = (token: string) => {
      const outcome = decide(settings, amount, token)
      return outcome._tag === "Declined" ? outcome.reason : undefined
    }
    assert.strictEqual(reasonOf("tok_decline"), "card_declined")
    assert.strictEqual(reasonOf("tok_insufficient_funds"), "insufficient_funds")
    assert.strictEqual(reasonOf("tok_nope"), "invalid_token")
  })
})
