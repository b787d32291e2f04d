/**
 * The composed client (`Downstream.client`) under a scripted transport and `TestClock`: how often
 * it tries, how long it waits, when its circuit opens and closes, and what its callers see.
 */
import { assert, describe, it } from "@effect/vitest"
import { NodeHttpClient } from "@effect/platform-node"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Data, Duration, Effect, Exit, Fiber, Metric } from "effect"
import { TestClock } from "effect/testing"
import { Downstream, DownstreamTimeout, DownstreamUnavailable, RetryPolicy } from "../src/index.ts"
import {
  downstream,
  ItemNotFound,
  policy,
  scripted,
  TestApi,
  withFreshMetrics,
  withRandom
} from "./fixtures.ts"

const get = (items: Downstream.ForApi<typeof TestApi>) =>
  items.call((client) => client.items.get({ params: { id: "a" } }))

const failureOf = <E>(exit: Exit.Exit<unknown, E>): E => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  return (exit as Exit.Failure<unknown, E>).cause.reasons.find((reason) => reason._tag === "Fail")!.error as E
}

const gauge = Effect.map(
  Metric.value(
    Metric.gauge("resilience.circuit_breaker.state", {
      description: "0 closed, 1 open, 2 half-open",
      attributes: { breaker: "items" }
    })
  ),
  (state) => state.value
)

describe("retry", () => {
  it.effect("tries a GET 3 times with full-jitter delays under their bounds, then answers unavailable", () =>
    Effect.gen(function* () {
      const { requests, transport } = scripted([503])
      const items = yield* downstream(transport)
      const call = yield* Effect.forkChild(get(items))
      yield* Effect.yieldNow
      assert.strictEqual(requests.length, 1)
      // Random draws 0.99: the first delay is 0.99 x 100 ms, the second 0.99 x 200 ms.
      yield* TestClock.adjust("98 millis")
      assert.strictEqual(requests.length, 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(requests.length, 2)
      yield* TestClock.adjust("198 millis")
      assert.strictEqual(requests.length, 3)
      const failure = failureOf(yield* Fiber.await(call))
      assert.instanceOf(failure, DownstreamUnavailable)
      assert.strictEqual((failure as DownstreamUnavailable).reason, "unreachable")
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(requests.length, 3, "no attempt beyond maxAttempts")
    }).pipe(withRandom(0.99), Effect.scoped)
  )

  it.effect("caps each delay at maxDelay and gives up past the elapsed budget", () =>
    Effect.gen(function* () {
      const { requests, transport } = scripted([503])
      const retry = RetryPolicy.make({
        name: "test",
        maxAttempts: 10,
        baseDelay: "1 second",
        maxDelay: "1500 millis",
        maxElapsed: "3 seconds"
      })
      const items = yield* downstream(transport, {
        retry,
        breaker: { failures: 100, openDuration: "1 second" }
      })
      const call = yield* Effect.forkChild(get(items))
      yield* TestClock.adjust("1 second") // first delay: 1 s
      assert.strictEqual(requests.length, 2)
      yield* TestClock.adjust("1499 millis") // second: min(1.5 s, 2 s)
      assert.strictEqual(requests.length, 2)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(requests.length, 3)
      // A third delay of 1.5 s would end at 4 s since the first failure: past the 3 s budget.
      assert.instanceOf(failureOf(yield* Fiber.await(call)), DownstreamUnavailable)
      assert.strictEqual(requests.length, 3)
    }).pipe(withRandom(1), Effect.scoped)
  )

  it.effect("never repeats a POST without an idempotency key, and does repeat one with a key", () =>
    Effect.gen(function* () {
      const bare = scripted([503])
      const items = yield* downstream(bare.transport)
      const once = yield* Effect.exit(
        items.call((client) => client.items.create({ payload: { id: "a" }, headers: {} }))
      )
      assert.instanceOf(failureOf(once), DownstreamUnavailable)
      assert.strictEqual(bare.requests.length, 1)

      const keyed = scripted([503, 503, 200])
      const items2 = yield* downstream(keyed.transport)
      const created = yield* items2.call((client) =>
        client.items.create({ payload: { id: "a" }, headers: { "idempotency-key": "k1" } })
      )
      assert.deepStrictEqual(created, { id: "a" })
      assert.strictEqual(keyed.requests.length, 3)
    }).pipe(withRandom(0), Effect.scoped)
  )

  it.effect("waits what Retry-After asks, and returns at once when it asks for more than maxDelay", () =>
    Effect.gen(function* () {
      const polite = scripted([{ status: 503, headers: { "retry-after": "1" } }, 200])
      const items = yield* downstream(polite.transport)
      const call = yield* Effect.forkChild(get(items))
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(polite.requests.length, 1)
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* Fiber.join(call), { id: "a" })

      const busy = scripted([{ status: 503, headers: { "retry-after": "60" } }, 200])
      const patient = RetryPolicy.make({
        name: "patient",
        maxAttempts: 3,
        baseDelay: "100 millis",
        maxDelay: "1 second",
        maxElapsed: "10 minutes"
      })
      const items2 = yield* downstream(busy.transport, { retry: patient })
      const failure = failureOf(yield* Effect.exit(get(items2)))
      assert.strictEqual(busy.requests.length, 1)
      assert.strictEqual(Duration.toSeconds((failure as DownstreamUnavailable).retryAfter), 60)
    }).pipe(withRandom(0), Effect.scoped)
  )

  it.effect("passes contract errors through, untried again and not counted against the downstream", () =>
    Effect.gen(function* () {
      const { requests, transport } = scripted([404])
      const items = yield* downstream(transport, { breaker: { failures: 1, openDuration: "10 seconds" } })
      for (let i = 0; i < 3; i++) assert.instanceOf(failureOf(yield* Effect.exit(get(items))), ItemNotFound)
      assert.strictEqual(requests.length, 3)
      assert.strictEqual(yield* items.state, "Closed")
    }).pipe(Effect.scoped)
  )
})

describe("metrics", () => {
  it.effect("scrapes every counter at 0 from the start, before any call", () =>
    withFreshMetrics(
      Effect.gen(function* () {
        yield* downstream(scripted([]).transport, { retry: RetryPolicy.none })
        const counters = (yield* Metric.snapshot).filter((metric) => metric.type === "Counter")
        const names = new Set(counters.map((metric) => metric.id))
        for (const name of [
          "resilience.retry.retries",
          "resilience.retry.attempts",
          "resilience.call.count"
        ]) {
          assert.isTrue(names.has(name), `${name} is scraped`)
        }
        assert.strictEqual(counters.filter((metric) => metric.id === "resilience.call.count").length, 6)
        for (const counter of counters) assert.strictEqual((counter.state as { count: number }).count, 0)
      }).pipe(Effect.scoped)
    )
  )
})

describe("circuit breaker", () => {
  it.effect("closed -> open -> half-open -> closed, failing fast for concurrent callers while open", () =>
    withFreshMetrics(
      Effect.gen(function* () {
        const script = scripted([503, 503, 503, 200])
        const items = yield* downstream(script.transport, { retry: RetryPolicy.none })
        assert.strictEqual(yield* gauge, 0)
        for (let i = 0; i < 3; i++) yield* Effect.exit(get(items))
        assert.strictEqual(yield* items.state, "Open")
        yield* Effect.yieldNow
        assert.strictEqual(yield* gauge, 1)

        yield* TestClock.adjust("4 seconds")
        const rejected = yield* Effect.all(
          Array.from({ length: 20 }, () => Effect.exit(get(items))),
          {
            concurrency: "unbounded"
          }
        )
        assert.strictEqual(script.requests.length, 3, "an open circuit does not reach the downstream")
        for (const exit of rejected) {
          const failure = failureOf(exit) as DownstreamUnavailable
          assert.strictEqual(failure.reason, "circuit_open")
          assert.strictEqual(Duration.toSeconds(failure.retryAfter), 6)
        }

        yield* TestClock.adjust("6 seconds")
        assert.deepStrictEqual(yield* get(items), { id: "a" }, "the probe goes through")
        assert.strictEqual(yield* items.state, "Closed")
        yield* Effect.yieldNow
        assert.strictEqual(yield* gauge, 0)
      }).pipe(Effect.scoped)
    )
  )

  it.effect("half-open -> open again when the probe fails, and a call mid-retries stops once it opens", () =>
    Effect.gen(function* () {
      const script = scripted([503])
      const items = yield* downstream(script.transport, {
        breaker: { failures: 2, openDuration: "10 seconds" }
      })
      // A GET retried: its second failed attempt opens the circuit, its third is not made.
      const call = yield* Effect.forkChild(get(items))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(
        (failureOf(yield* Fiber.await(call)) as DownstreamUnavailable).reason,
        "circuit_open"
      )
      assert.strictEqual(script.requests.length, 2)

      yield* TestClock.adjust("10 seconds")
      const probe = failureOf(yield* Effect.exit(get(items))) as DownstreamUnavailable
      assert.strictEqual(script.requests.length, 3, "one probe")
      assert.strictEqual(probe.reason, "circuit_open", "the failed probe reopened it")
      assert.strictEqual(yield* items.state, "Open")
    }).pipe(withRandom(0), Effect.scoped)
  )
})

describe("a downstream that is not HTTP", () => {
  class Declined extends Data.TaggedError("Declined") {}
  class Unreachable extends Data.TaggedError("Unreachable") {}

  it.effect("counts only the failures it is told are transient, and retries only those", () =>
    Effect.gen(function* () {
      const { downstream: processor } = yield* Downstream.make({
        name: "processor",
        ...policy,
        breaker: { failures: 2, openDuration: "10 seconds" },
        isTransient: (error) => error instanceof Unreachable
      })
      let calls = 0
      const declined = Effect.suspend(() => {
        calls++
        return Effect.fail(new Declined())
      })
      for (let i = 0; i < 3; i++) {
        assert.instanceOf(
          failureOf(yield* Effect.exit(processor.run(declined, { idempotent: true }))),
          Declined
        )
      }
      assert.strictEqual(calls, 3, "a business answer is not retried")
      assert.strictEqual(yield* processor.state, "Closed", "nor counted against the processor")

      const unreachable = processor.run(Effect.fail(new Unreachable()), { idempotent: true })
      const failure = failureOf(yield* Effect.exit(unreachable)) as DownstreamUnavailable
      assert.strictEqual(failure.reason, "circuit_open")
      assert.strictEqual(yield* processor.state, "Open")
    }).pipe(withRandom(0), Effect.scoped)
  )
})

describe("timeout", () => {
  it.effect("bounds each attempt, retries it, then answers a timeout", () =>
    Effect.gen(function* () {
      const { requests, transport } = scripted(["hang"])
      const items = yield* downstream(transport, { breaker: { failures: 10, openDuration: "1 second" } })
      const call = yield* Effect.forkChild(get(items))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(requests.length, 2)
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("1 second")
      assert.instanceOf(failureOf(yield* Fiber.await(call)), DownstreamTimeout)
      assert.strictEqual(requests.length, 3)
    }).pipe(withRandom(0), Effect.scoped)
  )
})

describe("on the wire", () => {
  it.live("a timed-out attempt is aborted: the server sees its request closed", () =>
    Effect.gen(function* () {
      const closed = Promise.withResolvers<void>()
      let requests = 0
      const server = createServer((request) => {
        requests++
        request.on("close", () => closed.resolve())
      })
      yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))),
        () =>
          Effect.sync(() => server.closeAllConnections()).pipe(
            Effect.andThen(Effect.sync(() => server.close()))
          )
      )
      const { port } = server.address() as AddressInfo
      const items = yield* Downstream.client(TestApi, {
        name: "items",
        baseUrl: `http://127.0.0.1:${port}`,
        ...policy,
        timeout: "100 millis",
        retry: RetryPolicy.none
      })
      const failure = failureOf(yield* Effect.exit(get(items)))
      assert.instanceOf(failure, DownstreamTimeout, String(failure))
      yield* Effect.promise(() => closed.promise).pipe(Effect.timeout("5 seconds"))
      assert.strictEqual(requests, 1)
    }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici))
  )
})

describe("bulkhead", () => {
  it.effect("admits maxConcurrent + maxQueue calls and rejects the next at once", () =>
    Effect.gen(function* () {
      const { requests, transport } = scripted(["hang"])
      const items = yield* downstream(transport, {
        retry: RetryPolicy.none,
        timeout: "1 minute",
        bulkhead: { maxConcurrent: 2, maxQueue: 1 }
      })
      const admitted = yield* Effect.forEach([1, 2, 3], () => Effect.forkChild(get(items)))
      yield* Effect.yieldNow
      assert.strictEqual(requests.length, 2, "two run, one waits")
      const rejected = failureOf(yield* Effect.exit(get(items))) as DownstreamUnavailable
      assert.strictEqual(rejected.reason, "bulkhead_full")
      // An interrupted caller gives its place back.
      yield* Fiber.interrupt(admitted[0]!)
      yield* Effect.yieldNow
      assert.strictEqual(requests.length, 3, "the queued call runs")
      yield* Effect.forEach(admitted, Fiber.interrupt)
    }).pipe(Effect.scoped)
  )
})
