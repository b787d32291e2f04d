/**
 * Per-call cost of the composed policy (bulkhead, retry, circuit breaker, per-attempt timeout,
 * metrics), against the same call without it:
 *
 * - `run`: `Downstream.make(...).run(Effect.succeed(1))` vs `Effect.succeed(1)`;
 * - `client`: `Downstream.client(...).call(...)` vs the bare `HttpApiClient` over the same
 *   in-memory transport (no network, so the difference is the policy's whole cost).
 *
 *   node libs/resilience/bench/downstream.bench.ts [iterations] [rounds]
 *
 * Not a test: figures depend on the machine. Variants run `iterations` calls in one fiber,
 * `rounds` times after a warm-up, interleaved round by round so drift hits them alike; the
 * report is the median ns per call and the difference to the bare call.
 */
import { Effect } from "effect"
import { HttpClient, HttpClientResponse } from "effect/http"
import { HttpApiClient } from "effect/http-api"
import { Downstream, RetryPolicy } from "../src/index.ts"
import { TestApi } from "../test/fixtures.ts"

const iterations = Number(process.argv[2] ?? 50_000)
const rounds = Number(process.argv[3] ?? 9)

const policy = {
  timeout: "1 second",
  retry: RetryPolicy.transient,
  breaker: { failures: 5, openDuration: "10 seconds" },
  bulkhead: { maxConcurrent: 128, maxQueue: 0 }
} satisfies Downstream.Policy

const transport = HttpClient.make((request) =>
  Effect.sync(() =>
    HttpClientResponse.fromWeb(
      request,
      new Response('{"id":"a"}', { status: 200, headers: { "content-type": "application/json" } })
    )
  )
)

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const main = Effect.gen(function* () {
  const { downstream } = yield* Downstream.make({ name: "bench", ...policy })
  const items = yield* Downstream.client(TestApi, {
    name: "items",
    baseUrl: "http://items.internal",
    ...policy
  })
  const bare = yield* HttpApiClient.makeWith(TestApi, {
    httpClient: transport,
    baseUrl: "http://items.internal"
  })
  const get = { params: { id: "a" } }

  const variants: ReadonlyArray<readonly [string, () => Effect.Effect<unknown, unknown>]> = [
    ["Effect.succeed (bare)", () => Effect.succeed(1)],
    ["Downstream.run(Effect.succeed)", () => downstream.run(Effect.succeed(1), { idempotent: true })],
    ["HttpApiClient call (bare)", () => bare.items.get(get)],
    ["Downstream.client call", () => items.call((client) => client.items.get(get))]
  ]
  const loop = (make: () => Effect.Effect<unknown, unknown>) =>
    Effect.gen(function* () {
      for (let i = 0; i < iterations; i++) yield* make()
    })
  const samples = new Map<string, Array<number>>(variants.map(([name]) => [name, []]))
  for (let round = -1; round < rounds; round++) {
    for (const [name, make] of variants) {
      const started = performance.now()
      yield* loop(make)
      if (round >= 0) samples.get(name)!.push(((performance.now() - started) * 1e6) / iterations)
    }
  }
  const ns = (name: string) => median(samples.get(name)!)
  console.log(`iterations ${iterations}, rounds ${rounds}, median ns/call`)
  for (const [name] of variants) console.log(`${name.padEnd(34)} ${ns(name).toFixed(0).padStart(8)}`)
  console.log(
    `policy overhead, effect:  ${((ns(variants[1]![0]) - ns(variants[0]![0])) / 1000).toFixed(2)} us/call`
  )
  console.log(
    `policy overhead, client:  ${((ns(variants[3]![0]) - ns(variants[2]![0])) / 1000).toFixed(2)} us/call`
  )
}).pipe(Effect.provideService(HttpClient.HttpClient, transport), Effect.scoped)

Effect.runPromise(main)
