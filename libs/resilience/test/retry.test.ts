import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Random } from "effect"
import { HttpClientRequest } from "effect/http"
import { TestClock } from "effect/testing"
import { RetryPolicy } from "../src/index.ts"
import { fixedRandom, statusError } from "./fixtures.ts"

/**
 * An effect that fails with `errors[n]` on attempt n (then succeeds with the
 * attempt count), recording the Clock time of every attempt.
 */
const scripted = (errors: ReadonlyArray<unknown>) => {
  const times: Array<number> = []
  const effect = Effect.gen(function* () {
    times.push(yield* Clock.currentTimeMillis)
    const error = errors[times.length - 1]
    if (error !== undefined) return yield* Effect.fail(error)
    return times.length
  })
  return { effect, times }
}

const policy = RetryPolicy.make({
  name: "test",
  maxAttempts: 6,
  baseDelay: "10 millis",
  maxDelay: "80 millis",
  maxElapsed: "10 seconds"
})

const alwaysUnavailable = Array.from({ length: 100 }, () => statusError(503))

/** Advances the TestClock 1ms at a time until `fiber` is done. */
const driveToEnd = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.gen(function* () {
    for (let i = 0; i < 100_000 && fiber.pollUnsafe() === undefined; i++) yield* TestClock.adjust(1)
    return yield* Effect.exit(Fiber.join(fiber))
  })

describe("RetryPolicy", () => {
  it.effect("uses the exact full-jitter delay random * min(cap, base * 2^n)", () =>
    Effect.gen(function* () {
      const { effect, times } = scripted(alwaysUnavailable)
      // bounds for retries 1..5: 10, 20, 40, 80 (capped), 80 (capped)
      const randoms = [0.5, 0.25, 0.5, 0.75, 0.5]
      const fiber = yield* effect.pipe(
        RetryPolicy.retry(policy),
        Effect.provideService(Random.Random, fixedRandom(randoms)),
        Effect.forkChild
      )
      const exit = yield* driveToEnd(fiber)
      assert.isTrue(exit._tag === "Failure")
      const gaps = times.slice(1).map((t, i) => t - times[i])
      assert.deepStrictEqual(gaps, [5, 5, 20, 60, 40])
    })
  )

  it.effect("keeps every delay within [0, min(cap, base * 2^n)] and stops after maxAttempts", () =>
    Effect.gen(function* () {
      for (const seed of ["a", "b", "c", "d", "e", "f", "g", "h"]) {
        const { effect, times } = scripted(alwaysUnavailable)
        const fiber = yield* effect.pipe(RetryPolicy.retry(policy), Random.withSeed(seed), Effect.forkChild)
        const exit = yield* driveToEnd(fiber)
        assert.isTrue(exit._tag === "Failure")
        assert.strictEqual(times.length, policy.maxAttempts, `seed ${seed}`)
        times.slice(1).forEach((t, i) => {
          const gap = t - times[i]
          // TestClock.adjust(1) wakes a sleep at the first whole millisecond
          // at or after its deadline, hence the ceil.
          assert.isAtMost(
            gap,
            Math.ceil(RetryPolicy.delayBoundMillis(policy, i + 1)),
            `seed ${seed} retry ${i + 1}`
          )
          assert.isAtLeast(gap, 0)
        })
      }
      assert.strictEqual(RetryPolicy.delayBoundMillis(policy, 5), 80)
      assert.strictEqual(RetryPolicy.delayBoundMillis(policy, 50), 80)
    })
  )

  it.effect("gives up when the next delay would overrun the elapsed budget", () =>
    Effect.gen(function* () {
      const budgeted = RetryPolicy.make({
        name: "budgeted",
        maxAttempts: 10,
        baseDelay: "50 millis",
        maxDelay: "1 second",
        maxElapsed: "100 millis"
      })
      const { effect, times } = scripted(alwaysUnavailable)
      // retry 1 waits 49.5ms (elapsed 49.5), retry 2 would wait 99ms -> 148.5 > 100
      const fiber = yield* effect.pipe(
        RetryPolicy.retry(budgeted),
        Effect.provideService(Random.Random, fixedRandom([0.99])),
        Effect.forkChild
      )
      const exit = yield* driveToEnd(fiber)
      assert.isTrue(exit._tag === "Failure")
      assert.strictEqual(times.length, 2)
    })
  )

  it.effect("does not retry a non-transient error, nor a 404", () =>
    Effect.gen(function* () {
      for (const error of [new Error("bug"), { status: 400 }, statusError(404), statusError(500)]) {
        const { effect, times } = scripted([error, error])
        const exit = yield* Effect.exit(RetryPolicy.retry(effect, RetryPolicy.transient))
        assert.isTrue(exit._tag === "Failure")
        assert.strictEqual(times.length, 1)
      }
    })
  )

  it.effect("does not retry a POST without idempotency key, retries one with it", () =>
    Effect.gen(function* () {
      const post = HttpClientRequest.post("http://payment.internal/charges")
      const bare = scripted([statusError(503, { request: post })])
      const bareExit = yield* Effect.exit(RetryPolicy.retry(bare.effect, RetryPolicy.transient))
      assert.isTrue(bareExit._tag === "Failure")
      assert.strictEqual(bare.times.length, 1)

      const keyed = scripted([
        statusError(503, { request: HttpClientRequest.setHeader(post, "idempotency-key", "k") })
      ])
      const fiber = yield* Effect.forkChild(RetryPolicy.retry(keyed.effect, RetryPolicy.transient))
      const keyedExit = yield* driveToEnd(fiber)
      assert.deepStrictEqual(keyedExit._tag, "Success")
      assert.strictEqual(keyed.times.length, 2)

      // Same rule for non-HTTP failures, told by the call site.
      const generic = scripted([{ status: 503 }])
      yield* Effect.exit(
        RetryPolicy.retry(generic.effect, RetryPolicy.transient, { request: { method: "POST" } })
      )
      assert.strictEqual(generic.times.length, 1)
    })
  )

  it.effect("honours Retry-After in seconds", () =>
    Effect.gen(function* () {
      const { effect, times } = scripted([statusError(429, { headers: { "retry-after": "2" } })])
      const slow = RetryPolicy.make({
        name: "slow",
        maxAttempts: 3,
        baseDelay: "10 millis",
        maxDelay: "5 seconds",
        maxElapsed: "10 seconds"
      })
      // The jittered delay would be 0: only Retry-After can explain a wait.
      const fiber = yield* effect.pipe(
        RetryPolicy.retry(slow),
        Effect.provideService(Random.Random, fixedRandom([0])),
        Effect.forkChild
      )
      yield* TestClock.adjust(1999)
      assert.strictEqual(times.length, 1)
      yield* TestClock.adjust(1)
      assert.strictEqual(yield* Fiber.join(fiber), 2)
      assert.deepStrictEqual(times, [0, 2000])
    })
  )

  it.effect("honours Retry-After as an HTTP-date, and gives up when it exceeds the cap", () =>
    Effect.gen(function* () {
      const now = Date.parse("2030-01-01T00:00:00Z")
      yield* TestClock.setTime(now)
      const dated = scripted([
        statusError(503, { headers: { "retry-after": new Date(now + 3000).toUTCString() } })
      ])
      const fiber = yield* Effect.forkChild(
        dated.effect.pipe(
          RetryPolicy.retry(RetryPolicy.patient),
          Effect.provideService(Random.Random, fixedRandom([0]))
        )
      )
      yield* TestClock.adjust(2999)
      assert.strictEqual(dated.times.length, 1)
      yield* TestClock.adjust(1)
      assert.strictEqual(yield* Fiber.join(fiber), 2)
      assert.deepStrictEqual(
        dated.times.map((t) => t - now),
        [0, 3000]
      )

      // transient caps delays at 1s: a server asking for 30s gets the failure back.
      const far = scripted([statusError(503, { headers: { "retry-after": "30" } })])
      const exit = yield* Effect.exit(RetryPolicy.retry(far.effect, RetryPolicy.transient))
      assert.isTrue(exit._tag === "Failure")
      assert.strictEqual(far.times.length, 1)
    })
  )

  it.effect("RetryPolicy.none never retries", () =>
    Effect.gen(function* () {
      const { effect, times } = scripted(alwaysUnavailable)
      yield* Effect.exit(RetryPolicy.retry(effect, RetryPolicy.none))
      assert.strictEqual(times.length, 1)
    })
  )
})
