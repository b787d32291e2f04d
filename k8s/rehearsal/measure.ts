/**
 * Measures what the resource requests and limits in k8s/base are sized from: the resident set
 * size (RSS) and CPU of each service, idle and under a little load, on this machine.
 *
 *   node k8s/rehearsal/measure.ts [--bundle] [--rate 50] [--duration 60s] [--idle 20]
 *
 * Starts an embedded PostgreSQL (or uses MEASURE_DATABASE_URL), the four services as separate
 * processes (from source, or with --bundle from a production bundle built like `npm run build`
 * into a temporary directory, which is what the images run), lets them idle, then drives the
 * public API through the gateway with k6 at a constant arrival rate (browse, place an order,
 * read orders) while sampling /proc every 250 ms. Prints one table; nothing is written to the
 * repository.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { setTimeout as sleep } from "node:timers/promises"
import { signDevToken } from "../../apps/gateway/src/Auth/DevToken.ts"
import { buildApp } from "../../tools/build-app.ts"
import type { ServiceProcess } from "./lib.ts"
import {
  cpuSeconds,
  freePort,
  log,
  root,
  rssMiB,
  runK6,
  startPostgres,
  startService,
  waitFor
} from "./lib.ts"

const { values } = parseArgs({
  options: {
    bundle: { type: "boolean", default: false },
    rate: { type: "string", default: "50" },
    duration: { type: "string", default: "60s" },
    idle: { type: "string", default: "20" }
  }
})

/** The load: the shop's mix (browse / order / read) at a constant arrival rate. */
const k6Script = `
import http from "k6/http"
import { check } from "k6"
const base = __ENV.BASE_URL
const tokens = JSON.parse(__ENV.TOKENS)
export const options = {
  scenarios: { load: { executor: "constant-arrival-rate", rate: Number(__ENV.RATE), timeUnit: "1s",
    duration: __ENV.DURATION, preAllocatedVUs: 50, maxVUs: 200 } },
  thresholds: { http_req_failed: ["rate<0.01"] },
  summaryTrendStats: ["avg", "med", "p(95)", "p(99)", "max"]
}
const skus = ["BOLT-M8", "NUT-M8", "WASHER-M8", "SCREW-4X40", "ANCHOR-8"]
const uuid = () =>
  "xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx".replace(/x/g, () => Math.floor(Math.random() * 16).toString(16))
export default function () {
  const token = tokens[(__VU - 1) % tokens.length]
  const headers = { authorization: "Bearer " + token, "content-type": "application/json" }
  const roll = Math.random()
  if (roll < 0.6) {
    const r = http.get(base + "/v1/products?limit=20", { headers })
    check(r, { listed: (x) => x.status === 200 })
  } else if (roll < 0.85) {
    const body = JSON.stringify({ items: [{ sku: skus[Math.floor(Math.random() * skus.length)], quantity: 1 }], payment: { token: "tok_visa" } })
    const r = http.post(base + "/v1/orders", body, { headers: Object.assign({ "idempotency-key": uuid() }, headers) })
    check(r, { placed: (x) => x.status === 201 || x.status === 202 })
  } else {
    const r = http.get(base + "/v1/orders?limit=10", { headers })
    check(r, { read: (x) => x.status === 200 })
  }
}
`

const work = mkdtempSync(join(tmpdir(), "k8s-measure-"))
const jwtSecret = "measure-only-secret-0123456789abcdef0123456789"

/** The production bundle of an app (tools/build-app.ts), into `work`. */
const bundle = (app: string) => buildApp(join(root, "apps", app), join(work, app, "main.js"))

const pg = await startPostgres(process.env["MEASURE_DATABASE_URL"])
const services: Array<ServiceProcess> = []
let exitCode = 0
try {
  const ports = {
    gateway: await freePort(),
    order: await freePort(),
    inventory: await freePort(),
    payment: await freePort()
  }
  const entry = async (app: string) => (values.bundle ? await bundle(app) : undefined)
  const common = { LOG_LEVEL: "Warn" }
  const start = async (app: keyof typeof ports, env: Record<string, string>) => {
    const service = startService({
      name: app,
      app,
      port: ports[app],
      env: { ...common, ...env },
      logDir: work,
      entry: await entry(app)
    })
    services.push(service)
    return service
  }
  const inventory = await start("inventory", {
    DATABASE_URL: await pg.createDatabase("measure_inventory"),
    SEED_DEMO_DATA: "true"
  })
  const payment = await start("payment", { DATABASE_URL: await pg.createDatabase("measure_payment") })
  await Promise.all([waitFor(inventory, "/health/ready"), waitFor(payment, "/health/ready")])
  const order = await start("order", {
    DATABASE_URL: await pg.createDatabase("measure_order"),
    INVENTORY_URL: `http://127.0.0.1:${ports.inventory}`,
    PAYMENT_URL: `http://127.0.0.1:${ports.payment}`
  })
  await waitFor(order, "/health/ready")
  const gateway = await start("gateway", {
    INVENTORY_URL: `http://127.0.0.1:${ports.inventory}`,
    ORDER_URL: `http://127.0.0.1:${ports.order}`,
    JWT_SECRET: jwtSecret,
    RATE_LIMIT_PER_SECOND: "10000",
    RATE_LIMIT_BURST: "10000"
  })
  await waitFor(gateway, "/health/ready")
  log(`all four ready (${values.bundle ? "production bundles" : "from source"}); idling ${values.idle} s`)

  const sample = () =>
    Object.fromEntries(
      services.map((s) => [s.name, { rss: rssMiB(s.pid) ?? NaN, cpu: cpuSeconds(s.pid) ?? NaN }])
    )
  const booted = sample()
  await sleep(Number(values.idle) * 1000)
  const idle = sample()

  const tokens = await Promise.all(
    Array.from({ length: 20 }, (_, i) => signDevToken({ subject: `measure-${i}`, secret: jwtSecret }))
  )
  const peak: Record<string, number> = Object.fromEntries(services.map((s) => [s.name, 0]))
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      for (const s of services) peak[s.name] = Math.max(peak[s.name]!, rssMiB(s.pid) ?? 0)
      await sleep(250)
    }
  })()
  const loadStart = sample()
  const startedAt = performance.now()
  log(`k6: ${values.rate} visits/s for ${values.duration} through the gateway`)
  const script = join(work, "load.js")
  writeFileSync(script, k6Script)
  const k6 = await runK6([script], {
    BASE_URL: `http://127.0.0.1:${ports.gateway}`,
    TOKENS: JSON.stringify(tokens),
    RATE: String(values.rate),
    DURATION: String(values.duration)
  })
  const wall = (performance.now() - startedAt) / 1000
  sampling = false
  await sampler
  const loaded = sample()
  if (k6 !== 0) {
    exitCode = 1
    log(`k6 exited ${k6}: the figures below are not from a healthy run`)
  }

  console.log(
    `\nRSS in MiB, CPU in cores (CPU seconds / wall seconds); ${values.bundle ? "bundle" : "source"}, node ${process.version}`
  )
  console.log("service    | RSS booted | RSS idle | RSS peak (load) | RSS after load | CPU idle | CPU load")
  for (const s of services) {
    const name = s.name
    const idleCpu = (idle[name]!.cpu - booted[name]!.cpu) / Number(values.idle)
    const loadCpu = (loaded[name]!.cpu - loadStart[name]!.cpu) / wall
    console.log(
      [
        name.padEnd(10),
        booted[name]!.rss.toFixed(0).padStart(10),
        idle[name]!.rss.toFixed(0).padStart(8),
        peak[name]!.toFixed(0).padStart(15),
        loaded[name]!.rss.toFixed(0).padStart(14),
        idleCpu.toFixed(3).padStart(8),
        loadCpu.toFixed(3).padStart(8)
      ].join(" | ")
    )
  }
} catch (error) {
  exitCode = 1
  console.error(error)
} finally {
  await Promise.all(services.map((s) => s.stop()))
  await pg.stop()
  rmSync(work, { recursive: true, force: true })
}
process.exit(exitCode)
