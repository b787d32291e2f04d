/**
 * A rolling restart rehearsed without a cluster, with real processes:
 *
 *   node k8s/rehearsal/rolling-restart.ts [--rate 50] [--duration 30s] [--target gateway|service]
 *
 * What stands in for what:
 *
 * | Kubernetes                                  | here                                                  |
 * | ------------------------------------------- | ----------------------------------------------------- |
 * | the inventory Deployment, 2 replicas        | two `apps/inventory/src/main.ts` processes            |
 * | its database                                | an embedded PostgreSQL (or REHEARSAL_DATABASE_URL)    |
 * | the inventory Service (kube-proxy)          | an L4 round-robin proxy: each new TCP connection goes |
 * |                                             | to a ready endpoint; open connections stay where they |
 * |                                             | are, like conntrack entries                           |
 * | endpoints controller + readiness probe      | the proxy probes /health/ready every second and stops |
 * |                                             | sending new connections on the first failure          |
 * | rollout, maxSurge 1 / maxUnavailable 0      | start a new replica, wait until the proxy sees it     |
 * |                                             | ready, then SIGTERM an old one; twice                 |
 * | the gateway Deployment                      | one `apps/gateway/src/main.ts` process, INVENTORY_URL |
 * |                                             | pointing at the proxy                                 |
 * | clients                                     | k6, constant arrival rate, through the gateway        |
 *
 * It is stricter than a cluster in one way: Kubernetes takes a deleted pod out of the endpoints
 * at once and delays SIGTERM by the preStop sleep (5 s); here SIGTERM comes first and the proxy
 * only learns of it from a failing readiness probe, up to a second later. The service must cover
 * that gap itself: readiness 503 at once, still serving for SHUTDOWN_DRAIN_DELAY, `Connection:
 * close` on every response while draining so kept-alive connections move to the other replicas,
 * then in-flight requests finished before exit 0.
 *
 * The old replicas are started together on a fresh database, so their migrations also run
 * concurrently (k8s/README.md "Migrations").
 *
 * Passes when k6 saw no failed request (threshold http_req_failed rate==0), both old replicas
 * exited 0, and the new ones took over the traffic. --target service drives the proxy directly
 * (no gateway, for when the gateway's public API is not usable).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer, connect } from "node:net"
import type { Server, Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { parseArgs } from "node:util"
import { signDevToken } from "../../apps/gateway/src/Auth/DevToken.ts"
import type { Exit, ServiceProcess } from "./lib.ts"
import {
  describeExit,
  freePort,
  httpStatus,
  log,
  now,
  runK6,
  startPostgres,
  startService,
  waitFor
} from "./lib.ts"

const { values } = parseArgs({
  options: {
    rate: { type: "string", default: "50" },
    duration: { type: "string", default: "30s" },
    target: { type: "string", default: "gateway" },
    // For a negative control: "0 seconds" shows what happens without the drain delay.
    drain: { type: "string", default: "5 seconds" },
    "keep-logs": { type: "boolean", default: false }
  }
})
if (values.target !== "gateway" && values.target !== "service") {
  console.error("--target is gateway or service")
  process.exit(2)
}

/** Steady load: a constant arrival rate, every response checked; any failure fails the run. */
const k6Script = `
import http from "k6/http"
import { check } from "k6"
const base = __ENV.BASE_URL
const paths = JSON.parse(__ENV.PATHS)
const params = { headers: { authorization: "Bearer " + __ENV.TOKEN }, timeout: "10s" }
export const options = {
  scenarios: {
    steady: { executor: "constant-arrival-rate", rate: Number(__ENV.RATE), timeUnit: "1s",
      duration: __ENV.DURATION, preAllocatedVUs: 50, maxVUs: 200 }
  },
  thresholds: { http_req_failed: ["rate==0"], checks: ["rate==1"] },
  summaryTrendStats: ["avg", "med", "p(95)", "p(99)", "max"]
}
export default function () {
  const response = http.get(base + paths[__ITER % paths.length], params)
  check(response, { "200": (r) => r.status === 200 })
}
`

const work = mkdtempSync(join(tmpdir(), "k8s-rehearsal-"))
const jwtSecret = "rehearsal-only-secret-0123456789abcdef012345"

// ---------------------------------------------------------------------------------------------
// The Service: an L4 round-robin proxy over the ready endpoints
// ---------------------------------------------------------------------------------------------

interface Endpoint {
  readonly name: string
  readonly port: number
  ready: boolean
  connections: number
  opened: number
}

const endpoints: Array<Endpoint> = []
let next = 0
let refused = 0

const proxy: Server = createServer((client: Socket) => {
  const ready = endpoints.filter((e) => e.ready)
  if (ready.length === 0) {
    // kube-proxy rejects connections to a Service without ready endpoints.
    refused++
    client.destroy()
    return
  }
  const endpoint = ready[next++ % ready.length]!
  endpoint.connections++
  endpoint.opened++
  const upstream = connect(endpoint.port, "127.0.0.1")
  client.pipe(upstream)
  upstream.pipe(client)
  let closed = false
  const close = () => {
    if (closed) return
    closed = true
    endpoint.connections--
    client.destroy()
    upstream.destroy()
  }
  client.on("error", close)
  upstream.on("error", close)
  client.on("close", close)
  upstream.on("close", close)
})

/** The readiness probe: every second, GET /health/ready; ready on 200, unready otherwise. */
const probe = async () => {
  for (const endpoint of [...endpoints]) {
    const status = await httpStatus(endpoint.port, "/health/ready", 900)
    const ready = status === 200
    if (ready !== endpoint.ready) {
      endpoint.ready = ready
      log(
        `proxy: ${endpoint.name} ${ready ? "ready, receives new connections" : `not ready (${status || "no answer"}), no new connections`}`
      )
    }
  }
}
let probing = true
const prober = (async () => {
  while (probing) {
    const started = performance.now()
    await probe()
    await sleep(Math.max(0, 1000 - (performance.now() - started)))
  }
})()

const waitUntilReady = async (name: string, timeoutMs = 60_000) => {
  const started = now()
  while (now() - started < timeoutMs / 1000) {
    if (endpoints.find((e) => e.name === name)?.ready) return
    await sleep(100)
  }
  throw new Error(`${name} never became ready behind the proxy`)
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

const pg = await startPostgres(process.env["REHEARSAL_DATABASE_URL"])
const processes: Array<ServiceProcess> = []
let failed = false
const check = (ok: boolean, what: string) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`)
  if (!ok) failed = true
}

try {
  const databaseUrl = await pg.createDatabase("rehearsal_inventory")
  const proxyPort = await freePort()
  await new Promise<void>((resolve) => proxy.listen(proxyPort, "127.0.0.1", resolve))

  const startReplica = async (name: string) => {
    const port = await freePort()
    const replica = startService({
      name,
      app: "inventory",
      port,
      logDir: work,
      // The kit's shutdown settings as in k8s/base (kit-config): drain 5 s, in-flight 20 s.
      env: {
        DATABASE_URL: databaseUrl,
        SEED_DEMO_DATA: "true",
        SHUTDOWN_DRAIN_DELAY: String(values.drain),
        SHUTDOWN_TIMEOUT: "20 seconds",
        DB_POOL_MAX: "10"
      }
    })
    processes.push(replica)
    endpoints.push({ name, port, ready: false, connections: 0, opened: 0 })
    return replica
  }

  log("two inventory replicas, started at once on a fresh database (concurrent migrations)")
  const [a, b] = await Promise.all([startReplica("inventory-a"), startReplica("inventory-b")])
  await Promise.all([waitFor(a!, "/health/ready"), waitFor(b!, "/health/ready")])
  await Promise.all([waitUntilReady("inventory-a"), waitUntilReady("inventory-b")])

  let base: string
  let paths: Array<string>
  let gatewayMetrics: (() => Promise<string>) | undefined
  const token = await signDevToken({ subject: "rehearsal", secret: jwtSecret })
  if (values.target === "gateway") {
    const gatewayPort = await freePort()
    const adminPort = await freePort()
    const gateway = startService({
      name: "gateway",
      app: "gateway",
      port: gatewayPort,
      logDir: work,
      env: {
        INVENTORY_URL: `http://127.0.0.1:${proxyPort}`,
        // No order service in this rehearsal: /v1/products needs only inventory.
        ORDER_URL: `http://127.0.0.1:${await freePort()}`,
        JWT_SECRET: jwtSecret,
        // One caller at 50 requests/s: above the per-caller default of 20/s.
        RATE_LIMIT_PER_SECOND: "1000",
        RATE_LIMIT_BURST: "1000",
        LOG_LEVEL: "Warn",
        ADMIN_PORT: String(adminPort)
      }
    })
    processes.push(gateway)
    await waitFor(gateway, "/health/live")
    base = `http://127.0.0.1:${gatewayPort}`
    gatewayMetrics = async () => (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text()
    paths = ["/v1/products?limit=20", "/v1/products/BOLT-M8"]
    const smoke = await fetch(`${base}${paths[0]}`, { headers: { authorization: `Bearer ${token}` } })
    if (smoke.status !== 200) throw new Error(`gateway smoke request: ${smoke.status} ${await smoke.text()}`)
    log("gateway up, /v1/products answers through the proxy")
  } else {
    base = `http://127.0.0.1:${proxyPort}`
    paths = ["/products?limit=20", "/products/BOLT-M8"]
  }

  const summaryFile = join(work, "summary.json")
  const script = join(work, "load.js")
  writeFileSync(script, k6Script)
  log(
    `k6: ${values.rate} requests/s for ${values.duration} through ${values.target === "gateway" ? "the gateway" : "the proxy"}`
  )
  const k6 = runK6([`--summary-export=${summaryFile}`, script], {
    BASE_URL: base,
    PATHS: JSON.stringify(paths),
    TOKEN: token,
    RATE: String(values.rate),
    DURATION: String(values.duration)
  })

  // The rollout: one new replica at a time (maxSurge 1), an old one stopped only once the new
  // one is ready (maxUnavailable 0).
  await sleep(4000)
  const exits: Record<string, Exit> = {}
  for (const [old, replacement] of [
    [a!, "inventory-c"],
    [b!, "inventory-d"]
  ] as const) {
    log(`rollout: start ${replacement}`)
    const fresh = await startReplica(replacement)
    await waitFor(fresh, "/health/ready")
    await waitUntilReady(replacement)
    log(`rollout: ${replacement} ready; SIGTERM to ${old.name}`)
    const stopping = now()
    old.child.kill("SIGTERM")
    const exit = await old.stop(40_000)
    exits[old.name] = exit
    log(
      `rollout: ${old.name} exited (${describeExit(exit)}) ${(now() - stopping).toFixed(1)} s after SIGTERM`
    )
    // Its endpoint stays until the probe fails, as a dead pod's would until the endpoints
    // controller and kube-proxy catch up.
  }
  log("rollout: done; waiting for k6")
  const k6Code = await k6

  // What k6 cannot see: calls from the gateway to inventory that failed and were retried.
  let downstreamFailures = 0
  let retries = 0
  if (gatewayMetrics) {
    const metrics = await gatewayMetrics()
    writeFileSync(join(work, "gateway-metrics.txt"), metrics)
    for (const line of metrics.split("\n")) {
      const value = Number(line.slice(line.lastIndexOf(" ") + 1))
      if (
        line.startsWith("http_client_request_duration_seconds_count{") &&
        line.includes(`server_port="${proxyPort}"`) &&
        (line.includes("error_type=") || /http_response_status_code="5/.test(line))
      )
        downstreamFailures += value
      if (line.startsWith('resilience_retry_retries{downstream="inventory"}')) retries += value
    }
  }

  // --- results
  const summary = JSON.parse(readFileSync(summaryFile, "utf8")) as {
    metrics: Record<string, Record<string, number>>
  }
  const reqs = summary.metrics["http_reqs"]?.["count"] ?? 0
  const failedRate = summary.metrics["http_req_failed"]?.["value"] ?? 1
  const duration = summary.metrics["http_req_duration"] ?? {}
  const dropped = summary.metrics["dropped_iterations"]?.["count"] ?? 0
  const served = (name: string) =>
    processes
      .find((p) => p.name === name)
      ?.lines.filter((l) => l["message"] === "request" && String(l["path"]).startsWith("/products")).length ??
    0
  console.log("")
  console.log(
    `k6: ${reqs} requests, failed ${(failedRate * 100).toFixed(2)}%, dropped iterations ${dropped}, ` +
      `p95 ${duration["p(95)"]?.toFixed(1)} ms, p99 ${duration["p(99)"]?.toFixed(1)} ms, max ${duration["max"]?.toFixed(1)} ms`
  )
  console.log(
    `requests served: ${["inventory-a", "inventory-b", "inventory-c", "inventory-d"].map((n) => `${n} ${served(n)}`).join(", ")}`
  )
  console.log(`connections refused by the proxy (no ready endpoint): ${refused}`)
  if (gatewayMetrics)
    console.log(`gateway -> inventory: ${downstreamFailures} failed calls, ${retries} retries`)
  check(k6Code === 0, `k6 thresholds (http_req_failed rate==0, checks rate==1): exit ${k6Code}`)
  check(failedRate === 0, "no failed request")
  if (gatewayMetrics)
    check(
      downstreamFailures === 0 && retries === 0,
      "no failed (or retried) call from the gateway to inventory either"
    )
  check(
    exits["inventory-a"]?.code === 0 && exits["inventory-b"]?.code === 0,
    "both old replicas exited 0 after SIGTERM"
  )
  // Balancing is per connection (like kube-proxy): a client with few kept-alive connections may
  // leave one replica with little or nothing. The pairs, not each replica, must have served.
  check(served("inventory-a") + served("inventory-b") > 0, "the old replicas served before the rollout")
  check(served("inventory-c") + served("inventory-d") > 0, "the new replicas took over the traffic")
} catch (error) {
  failed = true
  console.error(error)
} finally {
  probing = false
  await prober
  await Promise.all(processes.map((p) => p.stop(40_000)))
  proxy.close()
  await pg.stop()
  if (values["keep-logs"] || failed) console.log(`logs: ${work}`)
  else rmSync(work, { recursive: true, force: true })
}
process.exit(failed ? 1 : 0)
