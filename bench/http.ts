/**
 * The bench: one command, one run, alternating rounds, medians and ratios.
 *
 *   npm run bench                 # 5 rounds x 8 s per measurement, Node and Deno (~12 min)
 *   npm run bench -- --quick      # 3 rounds x 3 s, for CI (~2 min)
 *   npm run bench -- --rounds 3 --seconds 5 --runtimes node
 *
 * What it measures, on each runtime (Node, Deno), every service in its default configuration
 * (request log on at Info, metrics on, no trace exporter; on Node its production bundle, as the
 * images and `npm start` run it, on Deno its sources), against one fresh database of the
 * PostgreSQL in DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres):
 * - P1: inventory `GET /products/{sku}` against Fastify 5 + node-postgres doing the same SELECT
 *   and JSON (bench/fastify.ts), 32 connections; and the Effect floor (bench/effect-floor.ts): the
 *   same endpoint on Effect's HTTP and SQL modules with nothing of ours around it, which splits
 *   inventory's cost into Effect's own and the kit's;
 * - P2: the gateway `GET /v1/products/{sku}` (JWT, load shedding, rate limit, route timeout,
 *   call to inventory) against inventory directly, at 4 and 32 connections: req/s ratio and the
 *   p50 / p99 the gateway adds;
 * - on Node, full runs only: inventory exporting every span over OTLP (to a stand-in collector
 *   here) against the default, the cost of tracing;
 * - the CPU each process used per request (from /proc, Linux only): the service's own, PostgreSQL's
 *   and the load generator's (this process), which req/s alone blurs when they share the cores;
 * - the idle RSS of every process, before any load.
 *
 * Load comes from autocannon (an npm dev dependency of this package, run in this process),
 * closed loop; latencies are taken per response in microseconds, not from autocannon's
 * whole-millisecond histogram. Within a round every measurement runs once, in an order that
 * alternates from round to round, so a busy moment of the machine does not always hit the same
 * target. The machine's load average is recorded with every round: on a shared machine rely on
 * the ratios. `npm run bench` (bench/run.ts) holds `flock /tmp/acme-bench.lock` (BENCH_LOCK)
 * when `flock` exists, so benches of different checkouts do not overlap. Results: a table on stdout, JSON in
 * bench/results/ (BENCH_OUT to choose the file), service logs next to it.
 *
 * Ports: free ones, or consecutive ones from BENCH_PORT_BASE.
 */
import { createServer } from "node:http"
import { loadavg } from "node:os"
import { join } from "node:path"
import { writeFileSync } from "node:fs"
import { parseArgs } from "node:util"
import type { Sample } from "./lib.ts"
import {
  authorization,
  cpuMicrosPer,
  cpuMillis,
  entryOf,
  makeDatabase,
  measure,
  median,
  outDir,
  port,
  procs,
  rssOf,
  stamp,
  start,
  startPair,
  stopAll
} from "./lib.ts"

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    rounds: { type: "string" },
    seconds: { type: "string" },
    runtimes: { type: "string", default: "node,deno" }
  }
})

const rounds = Number(args.rounds ?? (args.quick ? 3 : 5))
const seconds = Number(args.seconds ?? (args.quick ? 3 : 8))
const runtimes = args.runtimes.split(",") as Array<"node" | "deno">
const outFile = process.env["BENCH_OUT"] ?? join(outDir, `bench-${stamp}.json`)

// A stand-in OTLP collector that accepts and discards exports (the tracing measurement).
let exported = 0
const collector = createServer((req, res) => {
  req.resume()
  req.on("end", () => {
    exported++
    res.writeHead(200).end()
  })
})
const collectorPort = await port()
await new Promise<void>((resolve) => collector.listen(collectorPort, "127.0.0.1", resolve))

const database = await makeDatabase("bench")
const databaseUrl = database.url
const results: Record<string, unknown> = {}
try {
  const auth = await authorization()
  const sku = "BOLT-M8"

  interface Target {
    readonly name: string
    readonly url: string
    readonly connections: number
    readonly headers?: Record<string, string>
  }
  const targets: Array<Target> = []
  const idleRss: Record<string, number | undefined> = {}
  for (const runtime of runtimes) {
    const { gateway, inventory } = await startPair(runtime, databaseUrl)
    const fastify = await start(
      `fastify-${runtime}`,
      runtime,
      "bench/fastify.ts",
      { DATABASE_URL: databaseUrl },
      "/health/live"
    )
    const floor = await start(
      `floor-${runtime}`,
      runtime,
      "bench/effect-floor.ts",
      { DATABASE_URL: databaseUrl },
      "/health/live"
    )
    const product = `/products/${sku}`
    targets.push(
      { name: `${runtime} P1 fastify c32`, url: fastify.url + product, connections: 32 },
      { name: `${runtime} P1 floor c32`, url: floor.url + product, connections: 32 },
      { name: `${runtime} P1 inventory c32`, url: inventory.url + product, connections: 32 },
      { name: `${runtime} P2 direct c4`, url: inventory.url + product, connections: 4 },
      { name: `${runtime} P2 gateway c4`, url: `${gateway.url}/v1${product}`, connections: 4, headers: auth },
      {
        name: `${runtime} P2 gateway c32`,
        url: `${gateway.url}/v1${product}`,
        connections: 32,
        headers: auth
      }
    )
    if (runtime === "node" && !args.quick) {
      const traced = await start(
        "inventory-node-otlp",
        runtime,
        await entryOf(runtime, "inventory"),
        {
          DATABASE_URL: databaseUrl,
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collectorPort}`,
          OTEL_TRACES_SAMPLER_ARG: "1"
        },
        "/health/ready"
      )
      targets.push({ name: `${runtime} tracing OTLP 100% c32`, url: traced.url + product, connections: 32 })
    }
  }
  // Idle: every process started, nothing sent yet but readiness polls.
  await new Promise((r) => setTimeout(r, 2000))
  for (const proc of procs) idleRss[proc.name] = rssOf(proc.child.pid)

  // Warm-up (JIT, pools, caches), not counted.
  for (const target of targets) await measure(target.url, target.connections, 1, target.headers)

  // CPU per request by process (this process is the load generator), next to the req/s that the
  // processes' sharing of two cores blurs.
  const partOf = (pid: number, comm: string) =>
    pid === process.pid ? "load" : comm === "postgres" ? comm : procs.find((p) => p.child.pid === pid)?.name
  const samples = new Map<string, Array<Sample & { readonly cpu: Record<string, number> }>>(
    targets.map((t) => [t.name, []])
  )
  const loads: Array<number> = []
  for (let round = 0; round < rounds; round++) {
    loads.push(loadavg()[0]!)
    const order = round % 2 === 0 ? targets : [...targets].reverse()
    for (const target of order) {
      const before = cpuMillis(partOf)
      const measured = await measure(target.url, target.connections, seconds, target.headers)
      const sample = { ...measured, cpu: cpuMicrosPer(before, cpuMillis(partOf), measured.rps * seconds) }
      samples.get(target.name)!.push(sample)
      console.error(
        `round ${round + 1}/${rounds} ${target.name.padEnd(28)} ${sample.rps.toFixed(0).padStart(6)} req/s ` +
          `p50 ${sample.p50.toFixed(2)} ms p99 ${sample.p99.toFixed(2)} ms` +
          (sample.errors > 0 ? ` errors ${sample.errors}` : "")
      )
    }
  }
  const loadedRss: Record<string, number | undefined> = {}
  for (const proc of procs) loadedRss[proc.name] = rssOf(proc.child.pid)

  const med = Object.fromEntries(
    [...samples].map(([name, xs]) => [
      name,
      {
        rps: median(xs.map((x) => x.rps)),
        p50: median(xs.map((x) => x.p50)),
        p99: median(xs.map((x) => x.p99)),
        errors: xs.reduce((sum, x) => sum + x.errors, 0),
        cpuMicrosPerRequest: Object.fromEntries(
          Object.keys(xs[0]!.cpu)
            .map((part) => [part, median(xs.map((x) => x.cpu[part] ?? 0))] as const)
            .filter(([, us]) => us >= 5)
        )
      }
    ])
  )
  const m = (name: string) => med[name]!
  const figures = runtimes.map((runtime) => {
    const t = (n: string) => m(`${runtime} ${n}`)
    const cpu = (n: string, part: string) => t(n).cpuMicrosPerRequest[`${part}-${runtime}`]
    return {
      runtime,
      p1: {
        ratio: t("P1 inventory c32").rps / t("P1 fastify c32").rps,
        target: 0.9,
        floor: t("P1 floor c32").rps / t("P1 fastify c32").rps,
        inventoryOverFloor: t("P1 inventory c32").rps / t("P1 floor c32").rps
      },
      // Microseconds of its own CPU per request, at 32 connections.
      cpu: {
        fastify: cpu("P1 fastify c32", "fastify"),
        floor: cpu("P1 floor c32", "floor"),
        inventory: cpu("P1 inventory c32", "inventory"),
        gateway: cpu("P2 gateway c32", "gateway")
      },
      p2: {
        c4: {
          ratio: t("P2 gateway c4").rps / t("P2 direct c4").rps,
          addedP50: t("P2 gateway c4").p50 - t("P2 direct c4").p50,
          addedP99: t("P2 gateway c4").p99 - t("P2 direct c4").p99
        },
        c32: {
          ratio: t("P2 gateway c32").rps / t("P1 inventory c32").rps,
          addedP50: t("P2 gateway c32").p50 - t("P1 inventory c32").p50,
          addedP99: t("P2 gateway c32").p99 - t("P1 inventory c32").p99
        },
        target: { ratio: 0.7, addedP50AtC4: 1 }
      },
      ...(runtime === "node" && med["node tracing OTLP 100% c32"]
        ? {
            tracing: { otlpAllSampledRatio: m("node tracing OTLP 100% c32").rps / t("P1 inventory c32").rps }
          }
        : {})
    }
  })

  const fixed = (x: number, d = 2) => x.toFixed(d)
  console.log(
    `\n${rounds} rounds x ${seconds} s, medians; load average per round: ${loads.map((l) => fixed(l)).join(" ")}` +
      ` (node ${process.version}, ${new Date().toISOString()})`
  )
  console.log("measurement                      req/s    p50 ms    p99 ms  errors")
  for (const [name, r] of Object.entries(med)) {
    console.log(
      `${name.padEnd(30)} ${fixed(r.rps, 0).padStart(7)} ${fixed(r.p50).padStart(9)} ${fixed(r.p99).padStart(9)} ${String(r.errors).padStart(7)}`
    )
  }
  console.log("CPU per request, microseconds (medians; load: the load generator, this process):")
  for (const [name, r] of Object.entries(med)) {
    console.log(
      `${name.padEnd(30)} ${Object.entries(r.cpuMicrosPerRequest)
        .map(([part, us]) => `${part} ${us}`)
        .join(", ")}`
    )
  }
  for (const f of figures) {
    console.log(
      `${f.runtime}: P1 inventory/fastify ${fixed(f.p1.ratio)}x (target >= 0.9), floor/fastify ${fixed(f.p1.floor)}x, inventory/floor ${fixed(f.p1.inventoryOverFloor)}x; ` +
        `P2 gateway/direct c4 ${fixed(f.p2.c4.ratio)}x, +${fixed(f.p2.c4.addedP50)} ms p50, +${fixed(f.p2.c4.addedP99)} ms p99 (target >= 0.7x, <= 1 ms p50); ` +
        `c32 ${fixed(f.p2.c32.ratio)}x, +${fixed(f.p2.c32.addedP50)} ms p50, +${fixed(f.p2.c32.addedP99)} ms p99; ` +
        `CPU per request: fastify ${f.cpu.fastify ?? "?"} us, floor ${f.cpu.floor ?? "?"} us, inventory ${f.cpu.inventory ?? "?"} us, gateway ${f.cpu.gateway ?? "?"} us` +
        ("tracing" in f && f.tracing
          ? `; OTLP 100% sampled/no exporter ${fixed(f.tracing.otlpAllSampledRatio)}x`
          : "")
    )
  }
  const mb = (x: number | undefined) => (x === undefined ? "?" : `${fixed(x, 0)} MB`)
  console.log(
    "RSS idle -> after load: " +
      procs.map((p) => `${p.name} ${mb(idleRss[p.name])} -> ${mb(loadedRss[p.name])}`).join(", ")
  )
  if (exported > 0) console.log(`(OTLP exports received by the stand-in collector: ${exported})`)
  Object.assign(results, {
    date: new Date().toISOString(),
    node: process.version,
    rounds,
    seconds,
    loadAverage: loads,
    medians: med,
    samples: Object.fromEntries(samples),
    figures,
    rss: { idle: idleRss, afterLoad: loadedRss }
  })
  writeFileSync(outFile, JSON.stringify(results, null, 2) + "\n")
  console.log(`JSON: ${outFile}`)
} finally {
  await stopAll()
  collector.close()
  await database.drop()
}
