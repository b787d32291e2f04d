/**
 * CPU cost of a time bound: `Timeout.orElse` against Effect's `Effect.timeoutOrElse`, around an
 * effect that completes on the next event-loop turn (as a request or a query does), 32 at a time.
 *
 *   node libs/server/bench/timeout.bench.ts [calls] [rounds]
 *
 * Not a test: figures depend on the machine. The variants alternate round by round after a
 * warm-up; the report is the median microseconds of CPU (user + system) per call and the
 * difference to the unbounded effect.
 */
import { Duration, Effect } from "effect"
import { Timeout } from "../src/index.ts"

const calls = Number(process.argv[2] ?? 32_000)
const rounds = Number(process.argv[3] ?? 7)

const nextTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
const bound = { duration: Duration.seconds(30), orElse: () => Effect.void }
const variants: ReadonlyArray<readonly [string, Effect.Effect<void>]> = [
  ["unbounded", nextTurn],
  ["Effect.timeoutOrElse", Effect.timeoutOrElse(nextTurn, bound)],
  ["Timeout.orElse", Timeout.orElse(nextTurn, bound)]
]

const cpuMicrosPerCall = async (effect: Effect.Effect<void>) => {
  const started = process.cpuUsage()
  for (let done = 0; done < calls; done += 32) {
    await Promise.all(Array.from({ length: 32 }, () => Effect.runPromise(effect)))
  }
  const used = process.cpuUsage(started)
  return (used.user + used.system) / calls
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

for (const [, effect] of variants) await cpuMicrosPerCall(effect)
const samples = variants.map((): Array<number> => [])
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? [...variants.keys()] : [...variants.keys()].reverse()
  for (const i of order) samples[i]!.push(await cpuMicrosPerCall(variants[i]![1]))
}
const base = median(samples[0]!)
console.log(`${calls} calls x ${rounds} rounds, median CPU per call (node ${process.version})`)
variants.forEach(([name], i) => {
  const us = median(samples[i]!)
  console.log(`${name.padEnd(22)} ${us.toFixed(2).padStart(6)} us  (+${(us - base).toFixed(2)} us)`)
})
