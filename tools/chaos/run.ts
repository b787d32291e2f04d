/**
 * `npm run chaos`: faults under load against the stack on this machine, and what must still
 * hold afterwards.
 *
 *   node tools/chaos/run.ts [scenario...] [--runtime node|deno] [--rate N] [--quick] [--list]
 *   npm run chaos -- --quick kill-payment pg-restart
 *
 * It starts, with ports from CHAOS_PORT_BASE (default 9400; see `ports` below):
 * - an embedded PostgreSQL of its own (fresh data in .data/chaos/postgres), so that it can stop it;
 * - toxiproxy-server (installed with `go install` if absent), with a proxy in front of order,
 *   inventory and payment (what ORDER_URL, INVENTORY_URL, PAYMENT_URL point to) and one per
 *   service in front of PostgreSQL (its <SERVICE>_DATABASE_URL);
 * - the stack, `node tools/stack/start.ts` (whose supervisor restarts a service that dies), with
 *   stock raised so that orders do not run out (one scarce SKU excepted) and
 *   PENDING_TIMEOUT, OUTBOX_LEASE and AUTHORIZATION_TIMEOUT short (the stack's environment
 *   below), so that what they bound happens within the checks' waits.
 * Then, for each scenario: k6 places orders at --rate per second (open model; default 10, about
 * half of what this stack sustains on a 2-core machine, see loadtests/README.md) with reads
 * mixed in; after a warm-up the fault is injected, held, and cleared; the load goes on for a
 * while; then the invariants (invariants.ts) are checked. A table of all scenarios is printed at
 * the end; the exit code is 1 if any invariant broke (or the rolling restart failed a request).
 *
 * k6's client retries a request that got no HTTP answer at all (connection refused or reset:
 * the service was not there) up to 3 times, with the same idempotency key, as an API client
 * should; "failed" counts what is still not a 2xx after that, "retried" the retries.
 * "p99 fault" is over the requests started while the fault was on; "recover" is from the end of
 * the fault (for a kill: the kill) to the end of the last request that failed or took over
 * `slowMs` (3 s: an order that is not decided within ORDER_RESULT_WAIT, 2 s, is answered 202).
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { mkdirSync, rmSync } from "node:fs"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { setTimeout as sleep } from "node:timers/promises"
import { parseArgs } from "node:util"
import type { EmbeddedPostgres } from "../../libs/testing/src/Postgres.ts"
import { startPersistentPostgres } from "../../libs/testing/src/Postgres.ts"
import { signLocalToken } from "../localToken.ts"
import { dataDir, root } from "../stack/config.ts"
import { ensureDatabases } from "../stack/databases.ts"
import type { Check, Databases } from "./invariants.ts"
import { checkInvariants, deadLetters, stockTotals, withSql } from "./invariants.ts"
import type { Scenario } from "./scenarios.ts"
import { scenarios } from "./scenarios.ts"
import { findK6, findToxiproxy, Toxiproxy } from "./tools.ts"

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    runtime: { type: "string", default: "node" },
    rate: { type: "string", default: "10" },
    quick: { type: "boolean", default: false },
    list: { type: "boolean", default: false }
  }
})
if (values.list) {
  for (const scenario of scenarios) console.log(`${scenario.name.padEnd(18)} ${scenario.description}`)
  process.exit(0)
}
const unknown = positionals.filter((name) => !scenarios.some((s) => s.name === name))
if (unknown.length > 0) {
  console.error(`unknown scenario ${unknown.join(", ")}; one of: ${scenarios.map((s) => s.name).join(", ")}`)
  process.exit(2)
}
const chosen = positionals.length === 0 ? scenarios : scenarios.filter((s) => positionals.includes(s.name))
const runtime = values.runtime!
const rate = Number(values.rate)
const warmSeconds = values.quick ? 5 : 8
const slowMs = 3000
const afterSeconds = values.quick ? 6 : 12
/** How long the API may stay unavailable (503) after a fault when the orders are read back. */
const apiReadPatienceMs = 30_000

const base = Number(process.env["CHAOS_PORT_BASE"] || 9400)
const ports = {
  postgres: base + 1,
  gateway: base + 10,
  order: base + 11,
  inventory: base + 12,
  payment: base + 13,
  orderProxy: base + 21,
  inventoryProxy: base + 22,
  paymentProxy: base + 23,
  orderPgProxy: base + 31,
  inventoryPgProxy: base + 32,
  paymentPgProxy: base + 33,
  toxiproxy: base + 74
}
const pgDir = join(dataDir, "chaos", "postgres")
const dbUrl = (port: number, service: string) => `postgres://postgres@127.0.0.1:${port}/acme_${service}`
const direct: Databases = {
  order: dbUrl(ports.postgres, "order"),
  inventory: dbUrl(ports.postgres, "inventory"),
  payment: dbUrl(ports.postgres, "payment")
}
const log = (text: string) => console.log(`chaos: ${text}`)

// ---------------------------------------------------------------------------------------------
// The parts: PostgreSQL, toxiproxy, the stack
// ---------------------------------------------------------------------------------------------

let postgres: EmbeddedPostgres | undefined
const startPostgres = async () => {
  postgres = await startPersistentPostgres({ dataDir: pgDir, port: ports.postgres })
}

/** The stack as a child process, and what its output says about each service. */
interface Stack {
  readonly process: ChildProcess
  /** The pid of each service's current process. */
  readonly pids: Map<string, number>
  /** Resolves when `service` is next said to be ready again (after a restart). */
  readonly readyAgain: (service: string) => Promise<void>
  /** Resolves when the stack next says its rolling restart is done. */
  readonly rolled: () => Promise<void>
  readonly exited: Promise<number | null>
}

const startStack = (): Promise<Stack> => {
  mkdirSync(join(dataDir, "chaos"), { recursive: true })
  const child = spawn(process.execPath, [join(root, "tools/stack/start.ts"), "--runtime", runtime], {
    cwd: root,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      NO_COLOR: "1",
      GATEWAY_PORT: String(ports.gateway),
      ORDER_PORT: String(ports.order),
      INVENTORY_PORT: String(ports.inventory),
      PAYMENT_PORT: String(ports.payment),
      ORDER_URL: `http://127.0.0.1:${ports.orderProxy}`,
      INVENTORY_URL: `http://127.0.0.1:${ports.inventoryProxy}`,
      PAYMENT_URL: `http://127.0.0.1:${ports.paymentProxy}`,
      ORDER_DATABASE_URL: dbUrl(ports.orderPgProxy, "order"),
      INVENTORY_DATABASE_URL: dbUrl(ports.inventoryPgProxy, "inventory"),
      PAYMENT_DATABASE_URL: dbUrl(ports.paymentPgProxy, "payment"),
      // Shorter than their defaults so that what they bound happens within the checks' waits (30 s
      // for every order to end, 30 s more for every authorization to be settled): a payment
      // operation cut off by a kill is taken over, an outbox row whose outcome could not be
      // recorded (PostgreSQL down) is delivered again, and a late authorization is voided. The
      // voiding must stay well after the redelivery, or it voids an order's live authorization.
      PENDING_TIMEOUT: "10 seconds",
      OUTBOX_LEASE: "10 seconds",
      AUTHORIZATION_TIMEOUT: "25 seconds"
    }
  })
  const pids = new Map<string, number>()
  const waiting = new Map<string, Array<() => void>>()
  let rolled: Array<() => void> = []
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  return new Promise((resolve, reject) => {
    const stack: Stack = {
      process: child,
      pids,
      exited,
      readyAgain: (service) =>
        new Promise((done) => waiting.set(service, [...(waiting.get(service) ?? []), done])),
      rolled: () => new Promise((done) => rolled.push(done))
    }
    const onLine = (line: string) => {
      const started = /^\[stack\] (\w+) (starting|restarting) \(\w+, pid (\d+)/.exec(line)
      if (started) pids.set(started[1]!, Number(started[3]))
      const again = /^\[stack\] (\w+) ready again in/.exec(line)
      if (again) {
        for (const done of waiting.get(again[1]!) ?? []) done()
        waiting.delete(again[1]!)
      }
      if (/^\[stack\] rolling restart done/.test(line)) {
        for (const done of rolled) done()
        rolled = []
      }
      // The stack's own lines; the services' (logs in .data/logs/) would drown them under load.
      if (/^\[stack\]/.test(line)) console.log(`  | ${line}`)
      if (line.includes("Press Ctrl-C to stop.")) resolve(stack)
    }
    createInterface({ input: child.stdout! }).on("line", onLine)
    createInterface({ input: child.stderr! }).on("line", onLine)
    void exited.then((code) => reject(new Error(`the stack exited (${code})`)))
  })
}

const stopStack = async (stack: Stack) => {
  if (stack.process.exitCode === null) process.kill(-stack.process.pid!, "SIGINT")
  return Promise.race([stack.exited, sleep(30_000, "timeout")])
}

const allReady = async (timeoutMs: number) => {
  const deadline = performance.now() + timeoutMs
  const services = [ports.gateway, ports.order, ports.inventory, ports.payment]
  while (performance.now() < deadline) {
    const statuses = await Promise.all(
      services.map((port) =>
        fetch(`http://127.0.0.1:${port}/health/ready`, { signal: AbortSignal.timeout(2000) }).then(
          (r) => r.status,
          () => 0
        )
      )
    )
    if (statuses.every((status) => status === 200)) return true
    await sleep(500)
  }
  return false
}

// ---------------------------------------------------------------------------------------------
// Load: k6, one run per scenario
// ---------------------------------------------------------------------------------------------

interface Request {
  readonly type: string
  readonly status: number
  readonly start: number
  readonly duration: number
  readonly id?: string
  readonly retried: number
}

const runLoad = (k6: string, tokens: ReadonlyArray<string>, seconds: number) => {
  const requests: Array<Request> = []
  const child = spawn(
    k6,
    ["run", "--quiet", "--summary-mode=disabled", "--log-format", "raw", join(root, "tools/chaos/load.js")],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        BASE_URL: `http://127.0.0.1:${ports.gateway}`,
        TOKENS: JSON.stringify(tokens),
        RATE: String(rate),
        DURATION: `${seconds}s`,
        K6_NO_USAGE_REPORT: "true"
      }
    }
  )
  const onLine = (line: string) => {
    const match = /^R (\w+) (\d+) (\d+) (\d+) (\S+) (\d+)/.exec(line)
    if (match)
      requests.push({
        type: match[1]!,
        status: Number(match[2]),
        start: Number(match[3]),
        duration: Number(match[4]),
        ...(match[5] === "-" ? {} : { id: match[5]! }),
        retried: Number(match[6])
      })
    else if (line.trim() !== "" && !line.startsWith("Request Failed")) console.log(`  k6 | ${line}`)
  }
  createInterface({ input: child.stdout! }).on("line", onLine)
  createInterface({ input: child.stderr! }).on("line", onLine)
  const done = new Promise<Array<Request>>((resolve) => child.on("exit", () => resolve(requests)))
  return { done, stop: () => child.kill("SIGINT") }
}

const ok = (request: Request) =>
  request.type === "order" ? request.status === 201 || request.status === 202 : request.status === 200

const p99 = (values: ReadonlyArray<number>) => {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!
}

// ---------------------------------------------------------------------------------------------
// A scenario
// ---------------------------------------------------------------------------------------------

interface Result {
  readonly scenario: string
  readonly requests: number
  readonly failed: number
  /** The failed requests by status (0: no HTTP answer). */
  readonly failures: string
  readonly retried: number
  readonly p99Fault?: number
  readonly recoverSeconds: number
  readonly checks: ReadonlyArray<Check>
}

const runScenario = async (
  scenario: Scenario,
  context: {
    k6: string
    tokens: ReadonlyArray<string>
    toxiproxy: Toxiproxy
    stack: Stack
    initialStock: ReadonlyMap<string, number>
  }
): Promise<Result> => {
  log(`--- ${scenario.name}: ${scenario.description}`)
  if (!(await allReady(60_000))) throw new Error("the stack is not ready before the scenario")
  const deadLettersBefore = await deadLetters(direct)
  const load = runLoad(context.k6, context.tokens, warmSeconds + scenario.holdSeconds + afterSeconds)
  await sleep(warmSeconds * 1000)
  const faultStart = Date.now()
  log(`${scenario.name}: fault on`)
  await scenario.inject({
    toxiproxy: context.toxiproxy,
    kill: (service, signal) => {
      const pid = context.stack.pids.get(service)
      if (pid === undefined) throw new Error(`no pid for ${service}`)
      const again = context.stack.readyAgain(service)
      process.kill(pid, signal)
      return Promise.race([again, sleep(90_000)])
    },
    rollingRestart: async () => {
      const done = context.stack.rolled()
      process.kill(context.stack.process.pid!, "SIGUSR2")
      await Promise.race([done, sleep(300_000)])
    },
    stopPostgres: async () => {
      await postgres?.stop()
    },
    startPostgres
  })
  const faultEnd = Date.now()
  await context.toxiproxy.reset()
  log(`${scenario.name}: fault off after ${((faultEnd - faultStart) / 1000).toFixed(1)} s`)
  const requests = await load.done
  const clearedAt = scenario.instant ? faultStart : faultEnd
  const bad = requests.filter((r) => !ok(r) || r.duration > slowMs).map((r) => r.start + r.duration)
  const lastBad = Math.max(clearedAt, ...bad.filter((end) => end >= clearedAt))
  const during = requests.filter(
    (r) => r.start >= faultStart && r.start <= Math.max(faultEnd, faultStart + 1000)
  )
  const acknowledged = requests.filter((r) => r.type === "order" && ok(r) && r.id).map((r) => r.id!)
  const apiDeadline = performance.now() + apiReadPatienceMs
  const { checks } = await checkInvariants({
    db: direct,
    acknowledged,
    initialStock: context.initialStock,
    deadLettersBefore,
    deadLettersAllowed: scenario.deadLettersAllowed,
    // What the API says of the order. A 503 (a breaker still open after the fault, its probe
    // not yet through) is unavailability, which "recover" measures, not a disagreement: the read
    // is retried after its Retry-After, for at most `apiReadPatienceMs` for all the reads.
    readOrder: async (id, customer) => {
      const token = await signLocalToken(customer, { expiresIn: "1h" })
      for (;;) {
        const response = await fetch(`http://127.0.0.1:${ports.gateway}/v1/orders/${id}`, {
          headers: { authorization: `Bearer ${token}` }
        }).catch((error: unknown) => String(error))
        if (typeof response === "string") return response
        if (response.status === 503 && performance.now() < apiDeadline) {
          await response.body?.cancel()
          await sleep(Math.min(Number(response.headers.get("retry-after") ?? 1), 2) * 1000)
          continue
        }
        if (response.status !== 200) return `HTTP ${response.status}`
        return String(((await response.json()) as { status?: unknown }).status)
      }
    }
  })
  const failedRequests = requests.filter((r) => !ok(r))
  const failed = failedRequests.length
  const byStatus = new Map<number, number>()
  for (const r of failedRequests) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1)
  if (scenario.zeroFailures)
    checks.push({ name: "no failed request", ok: failed === 0, detail: `${failed} failed` })
  const p99Fault = p99(during.map((r) => r.duration))
  return {
    scenario: scenario.name,
    requests: requests.length,
    failed,
    failures: [...byStatus].map(([status, n]) => `${n}x${status}`).join(" ") || "-",
    retried: requests.reduce((sum, r) => sum + r.retried, 0),
    ...(p99Fault === undefined ? {} : { p99Fault }),
    recoverSeconds: (lastBad - clearedAt) / 1000,
    checks
  }
}

const row = (cells: ReadonlyArray<string>, widths: ReadonlyArray<number>) =>
  `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(" | ")} |`

const table = (results: ReadonlyArray<Result>) => {
  const header = [
    "scenario",
    "requests",
    "failed %",
    "failed by status",
    "retried",
    "p99 fault",
    "recover",
    "invariants"
  ]
  const rows = results.map((r) => [
    r.scenario,
    String(r.requests),
    `${((100 * r.failed) / Math.max(1, r.requests)).toFixed(1)}% (${r.failed})`,
    r.failures,
    String(r.retried),
    r.p99Fault === undefined ? "-" : `${r.p99Fault} ms`,
    `${r.recoverSeconds.toFixed(1)} s`,
    r.checks.every((c) => c.ok)
      ? `ok (${r.checks.length})`
      : `BROKEN: ${r.checks
          .filter((c) => !c.ok)
          .map((c) => c.name)
          .join(", ")}`
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((cells) => cells[i]!.length)))
  return [
    row(header, widths),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...rows.map((cells) => row(cells, widths))
  ].join("\n")
}

// ---------------------------------------------------------------------------------------------

const started = performance.now()
const k6 = findK6()
findToxiproxy() // installs it now, before anything is started
rmSync(pgDir, { recursive: true, force: true })
log(
  `PostgreSQL on ${ports.postgres}, toxiproxy API on ${ports.toxiproxy}, stack on ${ports.gateway}-${ports.payment} (${runtime}), ${rate} orders/s`
)
await startPostgres()
await ensureDatabases(
  postgres!.url,
  Object.values(direct).map((url) => new URL(url).pathname.slice(1))
)
const toxiproxy = await Toxiproxy.start(ports.toxiproxy)
let stack: Stack | undefined
const results: Array<Result> = []
let exitCode = 0
try {
  await toxiproxy.addProxy("order", ports.orderProxy, ports.order)
  await toxiproxy.addProxy("inventory", ports.inventoryProxy, ports.inventory)
  await toxiproxy.addProxy("payment", ports.paymentProxy, ports.payment)
  await toxiproxy.addProxy("order-pg", ports.orderPgProxy, ports.postgres)
  await toxiproxy.addProxy("inventory-pg", ports.inventoryPgProxy, ports.postgres)
  await toxiproxy.addProxy("payment-pg", ports.paymentPgProxy, ports.postgres)
  stack = await startStack()
  // Plenty of every product but the scarce one, which some orders ask too much of.
  await withSql(
    direct.inventory,
    (sql) => sql`UPDATE products SET available = 1000000 WHERE sku <> 'LEVEL-60'`
  )
  const initialStock = await stockTotals(direct)
  const tokens = await Promise.all(
    Array.from({ length: 20 }, (_, i) => signLocalToken(`chaos-${i + 1}`, { expiresIn: "12h" }))
  )
  for (const scenario of chosen) {
    const result = await runScenario(scenario, { k6, tokens, toxiproxy, stack, initialStock })
    results.push(result)
    for (const check of result.checks)
      log(`  ${check.ok ? "ok    " : "BROKEN"} ${check.name}: ${check.detail}`)
    console.log(table([result]))
  }
} catch (error) {
  console.error(`chaos: ${error instanceof Error ? error.stack : String(error)}`)
  exitCode = 1
} finally {
  if (stack) {
    const code = await stopStack(stack)
    if (code !== 0) log(`the stack exited ${code} on SIGINT`)
  }
  toxiproxy.stop()
  await postgres?.stop()
}
console.log(
  `\nChaos suite (${runtime}, ${rate} orders/s, ${((performance.now() - started) / 1000).toFixed(0)} s):`
)
console.log(table(results))
if (results.some((r) => r.checks.some((c) => !c.ok))) exitCode = 1
process.exit(exitCode)
