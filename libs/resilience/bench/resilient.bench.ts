/**
 * Per-call cost of `resilient(...)` around `Effect.succeed`, against a bare
 * `Effect.succeed` run the same way.
 *
 *   node libs/resilience/bench/resilient.bench.ts [iterations] [rounds]
 *
 * Not a test: numbers depend on the machine. Each variant runs `iterations`
 * calls in a loop inside one fiber (so runtime start-up is not measured),
 * `rounds` times after a warm-up; the report gives the median ns/call per
 * variant and its ratio to the bare call. Variants are interleaved round by
 * round so drift (thermal, GC) hits them alike.
 */
import { Effect } from "effect"
import { Downstream, resilient, RetryPolicy } from "../src/index.ts"

const iterations = Number(process.argv[2] ?? 200_000)
const rounds = Number(process.argv[3] ?? 9)

const loop = (make: () => Effect.Effect<number, unknown>) =>
  Effect.gen(function* () {
    let sum = 0
    for (let i = 0; i < iterations; i++) sum += yield* make()
    return sum
  })

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

const main = Effect.gen(function* () {
  const full = yield* Downstream.make({ name: "bench-full" })
  const noTimeout = yield* Downstream.make({ name: "bench-no-timeout", timeout: false })
  const bare = yield* Downstream.make({
    name: "bench-bare",
    timeout: false,
    circuitBreaker: false,
    bulkhead: false
  })

  const variants: ReadonlyArray<readonly [string, () => Effect.Effect<number, unknown>]> = [
    ["Effect.succeed (bare)", () => Effect.succeed(1)],
    [
      "resilient: bulkhead+retry+breaker+timeout",
      () => resilient(Effect.succeed(1), full, RetryPolicy.transient)
    ],
    [
      "resilient: bulkhead+retry+breaker",
      () => resilient(Effect.succeed(1), noTimeout, RetryPolicy.transient)
    ],
    [
      "resilient: metrics only (all off, no retry)",
      () => resilient(Effect.succeed(1), bare, RetryPolicy.none)
    ]
  ]
  const programs = variants.map(([, make]) => loop(make))
  const samples: Array<Array<number>> = variants.map(() => [])

  // Warm-up: let the JIT settle on every path before measuring.
  for (const program of programs) yield* program

  for (let round = 0; round < rounds; round++) {
    for (let v = 0; v < programs.length; v++) {
      const start = process.hrtime.bigint()
      yield* programs[v]
      samples[v].push(Number(process.hrtime.bigint() - start) / iterations)
    }
  }

  const base = median(samples[0])
  console.log(`node ${process.version}, ${iterations} calls x ${rounds} rounds (median ns/call)`)
  for (let v = 0; v < variants.length; v++) {
    const m = median(samples[v])
    console.log(`${variants[v][0].padEnd(46)} ${m.toFixed(0).padStart(7)} ns/call  x${(m / base).toFixed(1)}`)
  }
})

Effect.runPromise(main).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
