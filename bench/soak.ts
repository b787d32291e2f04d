/**
 * The soak check: does memory plateau under steady load? Fails (exit 1) on a leak.
 *
 *   npm run bench -- soak               # 5 minutes at 80% of capacity
 *   npm run bench -- soak --minutes 2 # shorter (the rule then looks at the last 60%)
 *
 * Starts inventory and the gateway on Node (default configuration, fresh database on
 * DATABASE_URL), measures the gateway's capacity (`GET /v1/products/{sku}`, 32 connections,
 * closed loop, 10 s), then drives 80% of it at a fixed rate for the whole soak while it samples
 * every 5 s, from each service's admin `/metrics`, its resident memory
 * (`process_memory_usage_bytes`), V8 heap used (`v8js_memory_heap_used_bytes`, all spaces) and
 * active handles (`nodejs_active_handles`).
 *
 * The rule, for each service and each of the three: the last minute must not be more than 10%
 * above the minute that starts the last 3 minutes (the last 60% of a shorter soak). The start is
 * left out: heaps and pools grow while they warm up. RSS and handles are compared by the medians
 * of those minutes; the heap by their minimums, because it saws between what is live and up to
 * four times that (V8 lets garbage pile up between full collections: a heap snapshot of the
 * gateway under 400 req/s holds 45-48 MB live while "heap used" reads 68-121 MB), and the
 * bottom of the saw, right after a full collection, is the live heap, which a leak raises. Holds
 * the bench lock (taken by `npm run bench`, bench/run.ts, for every bench); JSON in bench/results/.
 */
import { writeFileSync } from "node:fs"
import { loadavg } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import type { Proc } from "./lib.ts"
import { authorization, makeDatabase, measure, median, outDir, stamp, startPair, stopAll } from "./lib.ts"

const { values: args } = parseArgs({ options: { minutes: { type: "string", default: "5" } } })

const minutes = Number(args.minutes)
const sampleEvery = 5
const window = 60
const allowedGrowth = 0.1

const metricsOf = async (proc: Proc) => {
  const text = await fetch(`${proc.adminUrl}/metrics`).then((r) => r.text())
  const sum = (name: string) =>
    text
      .split("\n")
      .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(" ") + 1)), 0)
  return {
    rss: sum("process_memory_usage_bytes") / 2 ** 20,
    heap: sum("v8js_memory_heap_used_bytes") / 2 ** 20,
    handles: sum("nodejs_active_handles")
  }
}
type Reading = Awaited<ReturnType<typeof metricsOf>>

const database = await makeDatabase("soak")
let failed = false
try {
  const { gateway, inventory } = await startPair("node", database.url)
  const services = [gateway, inventory]
  const headers = await authorization()
  const url = `${gateway.url}/v1/products/BOLT-M8`
  await measure(url, 32, 3, headers) // warm-up
  const capacity = (await measure(url, 32, 10, headers)).rps
  const rate = Math.round(capacity * 0.8)
  console.error(`capacity ${capacity.toFixed(0)} req/s; soaking at ${rate} req/s for ${minutes} min`)

  const samples: Array<{ at: number; readings: Record<string, Reading> }> = []
  const started = performance.now()
  const load = measure(url, 32, minutes * 60, headers, rate)
  const sampler = setInterval(() => {
    const at = (performance.now() - started) / 1000
    void Promise.all(services.map(metricsOf)).then((readings) => {
      samples.push({ at, readings: Object.fromEntries(services.map((s, i) => [s.name, readings[i]!])) })
      console.error(
        `${at.toFixed(0).padStart(4)} s  load ${loadavg()[0]!.toFixed(2)}  ` +
          services
            .map(
              (s, i) =>
                `${s.name} rss ${readings[i]!.rss.toFixed(0)} MB heap ${readings[i]!.heap.toFixed(0)} MB handles ${readings[i]!.handles}`
            )
            .join("  ")
      )
    })
  }, sampleEvery * 1000)
  const result = await load
  clearInterval(sampler)

  const total = minutes * 60
  const from = total - Math.min(180, total * 0.6)
  const inWindow = (name: string, key: keyof Reading, start: number) => {
    const values = samples
      .filter((s) => s.at >= start && s.at < start + window)
      .map((s) => s.readings[name]![key])
    return key === "heap" ? Math.min(...values) : median(values)
  }
  const verdicts = services.flatMap((s) =>
    (["rss", "heap", "handles"] as const).map((key) => {
      const before = inWindow(s.name, key, from)
      const after = inWindow(s.name, key, total - window)
      const growth = after / before - 1
      const leak = growth > allowedGrowth
      failed ||= leak
      return { service: s.name, metric: key, before, after, growth, leak }
    })
  )
  console.log(
    `\nsoak: ${minutes} min at ${rate} req/s (80% of ${capacity.toFixed(0)}); served ${result.rps.toFixed(0)} req/s, ` +
      `p99 ${result.p99.toFixed(2)} ms, ${result.errors} errors; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`
  )
  console.log(
    `growth over the last ${((total - from) / 60).toFixed(1)} min (first minute to last; heap: minimums, ` +
      `rss and handles: medians), limit +10%:`
  )
  for (const v of verdicts) {
    console.log(
      `${v.service.padEnd(16)} ${v.metric.padEnd(8)} ${v.before.toFixed(1).padStart(8)} -> ${v.after
        .toFixed(1)
        .padStart(8)}  ${(v.growth * 100).toFixed(1).padStart(6)}%  ${v.leak ? "GROWING" : "flat"}`
    )
  }
  const file = join(outDir, `soak-${stamp}.json`)
  writeFileSync(file, JSON.stringify({ minutes, capacity, rate, result, verdicts, samples }, null, 2) + "\n")
  console.log(`${failed ? "FAIL: still growing" : "PASS: memory and handles plateau"}; JSON: ${file}`)
} finally {
  await stopAll()
  await database.drop()
}
process.exit(failed ? 1 : 0)
