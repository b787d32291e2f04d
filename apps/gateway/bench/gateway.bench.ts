/**
 * Benchmark: what the gateway costs. `GET /v1/products/{sku}` through the gateway (JWT check,
 * load shedding, rate limit, route timeout, resilient pooled call to inventory, mapping) against
 * `GET /products/{sku}` straight to inventory, in one run: both services start once as processes
 * (inventory on a fresh database of the PostgreSQL in DATABASE_URL, demo catalog seeded), then
 * k6 drives the same closed load at each target, alternating, round after round. Reported: the
 * medians over the rounds of req/s and of p50 / p99 latency, the req/s ratio, and the latency
 * the gateway adds.
 *
 *   node apps/gateway/bench/gateway.bench.ts [rounds=5] [seconds=8] [vus=32]
 *
 * DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/postgres. Needs k6 on PATH (or in
 * ~/go/bin). Both services log at Warn; the bench's caller has a rate limit it cannot reach.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { Reactivity } from "effect/reactivity"
import { spawn, spawnSync } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import type { AddressInfo } from "node:net"
import { homedir, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { signDevToken } from "../src/Auth/DevToken.ts"

const [rounds = 5, seconds = 8, vus = 32] = process.argv.slice(2).map(Number)
const serverUrl = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres"
const k6 = ["k6", join(homedir(), "go/bin/k6")].find((bin) => spawnSync(bin, ["version"]).status === 0)
if (k6 === undefined) throw new Error("k6 not found: install it with `go install go.k6.io/k6@latest`")

const entry = (app: string) => fileURLToPath(new URL(`../../${app}/src/main.ts`, import.meta.url))

/** One statement on the server's maintenance database. */
const onServer = (statement: string) =>
  Effect.runPromise(
    PgClient.makeClient({ url: Redacted.make(serverUrl) }).pipe(
      Effect.flatMap((sql) => sql.unsafe(statement)),
      Effect.scoped,
      Effect.provide(Reactivity.layer)
    )
  )

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })

const start = (app: string, env: Record<string, string>): ChildProcess =>
  spawn(process.execPath, [entry(app)], {
    env: { ...process.env, HOST: "127.0.0.1", LOG_LEVEL: "Warn", SHUTDOWN_DRAIN_DELAY: "0 millis", ...env },
    stdio: ["ignore", "inherit", "inherit"]
  })

/**
 * Polls `url` until it answers 200. Each attempt has its own timeout: a connection accepted while
 * the server is listening but not yet serving gets no answer at all.
 */
const waitFor = async (url: string) => {
  for (let i = 0; i < 600; i++) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false
    )
    if (ok) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`${url} did not answer`)
}

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGTERM")
  })

const database = `bench_gateway_${Date.now().toString(36)}`
const dir = mkdtempSync(join(tmpdir(), "gateway-bench-"))
const children: Array<ChildProcess> = []

try {
  await onServer(`CREATE DATABASE ${database}`)
  const databaseUrl = Object.assign(new URL(serverUrl), { pathname: `/${database}` }).toString()
  const [inventoryPort, gatewayPort] = [await freePort(), await freePort()]
  const inventory = `http://127.0.0.1:${inventoryPort}`
  const gateway = `http://127.0.0.1:${gatewayPort}`
  children.push(
    start("inventory", { PORT: String(inventoryPort), DATABASE_URL: databaseUrl, SEED_DEMO_DATA: "true" })
  )
  await waitFor(`${inventory}/health/ready`)
  console.error(`inventory ready at ${inventory} (database ${database})`)
  children.push(
    start("gateway", {
      PORT: String(gatewayPort),
      INVENTORY_URL: inventory,
      // Not called by this benchmark; the gateway reports not ready, and serves regardless.
      ORDER_URL: "http://127.0.0.1:9",
      RATE_LIMIT_PER_SECOND: "1000000000",
      RATE_LIMIT_BURST: "1000000000"
    })
  )
  await waitFor(`${gateway}/health/live`)
  console.error(`gateway ready at ${gateway}`)
  const token = await signDevToken({ subject: "bench", expiresIn: "2h" })

  const script = (name: string, url: string, headers: Record<string, string>) => {
    const file = join(dir, `${name}.js`)
    writeFileSync(
      file,
      `import http from "k6/http"
import { check } from "k6"
export const options = { vus: ${vus}, duration: "${seconds}s", summaryTrendStats: ["med", "p(99)"] }
const params = { headers: ${JSON.stringify(headers)} }
export default function () {
  const response = http.get(${JSON.stringify(url)}, params)
  check(response, { "status 200": (r) => r.status === 200 })
}
`
    )
    return file
  }
  const targets = {
    direct: script("direct", `${inventory}/products/BOLT-M8`, {}),
    gateway: script("gateway", `${gateway}/v1/products/BOLT-M8`, { authorization: `Bearer ${token}` })
  }

  interface Result {
    readonly rps: number
    readonly p50: number
    readonly p99: number
    readonly failed: number
  }
  const run = (file: string): Result => {
    const summary = join(dir, "summary.json")
    spawnSync(k6, ["run", "--quiet", "--summary-export", summary, file], { stdio: "ignore" })
    const metrics = JSON.parse(readFileSync(summary, "utf8")).metrics
    return {
      rps: metrics.http_reqs.rate,
      p50: metrics.http_req_duration.med,
      p99: metrics.http_req_duration["p(99)"],
      failed: metrics.checks.fails
    }
  }

  // Warm-up (JIT, connection pools, caches), not counted.
  const warmDirect = run(targets.direct)
  const warmGateway = run(targets.gateway)
  console.error(
    `warm-up: direct ${warmDirect.rps.toFixed(0)} req/s, gateway ${warmGateway.rps.toFixed(0)} req/s`
  )

  const results: Record<keyof typeof targets, Array<Result>> = { direct: [], gateway: [] }
  for (let round = 0; round < rounds; round++) {
    // Alternate which goes first, so neither always runs on a warmer machine.
    const order: Array<keyof typeof targets> = round % 2 === 0 ? ["direct", "gateway"] : ["gateway", "direct"]
    for (const name of order) {
      const result = run(targets[name])
      results[name].push(result)
      console.error(
        `round ${round + 1} ${name.padEnd(7)}: ${result.rps.toFixed(0)} req/s, ` +
          `p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms, failed ${result.failed}`
      )
    }
  }

  const median = (xs: ReadonlyArray<number>) => {
    const sorted = [...xs].sort((a, b) => a - b)
    const middle = Math.floor(sorted.length / 2)
    return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
  }
  const summary = (name: keyof typeof targets) => ({
    rps: median(results[name].map((r) => r.rps)),
    p50: median(results[name].map((r) => r.p50)),
    p99: median(results[name].map((r) => r.p99)),
    failed: results[name].reduce((sum, r) => sum + r.failed, 0)
  })
  const direct = summary("direct")
  const through = summary("gateway")
  console.log(`\n${rounds} rounds x ${seconds}s, ${vus} VUs, medians (node ${process.version})`)
  console.log("target                            req/s    p50 ms    p99 ms  failed")
  for (const [name, r] of [
    ["inventory GET /products/{sku}", direct],
    ["gateway GET /v1/products/{sku}", through]
  ] as const) {
    console.log(
      `${name.padEnd(31)} ${r.rps.toFixed(0).padStart(7)} ${r.p50.toFixed(2).padStart(9)} ${r.p99
        .toFixed(2)
        .padStart(9)} ${String(r.failed).padStart(7)}`
    )
  }
  console.log(
    `gateway/direct req/s ratio: ${(through.rps / direct.rps).toFixed(2)}; ` +
      `added latency: p50 +${(through.p50 - direct.p50).toFixed(2)} ms, p99 +${(through.p99 - direct.p99).toFixed(2)} ms`
  )
} finally {
  await Promise.all(children.map(stop))
  await onServer(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {})
  rmSync(dir, { recursive: true, force: true })
}
