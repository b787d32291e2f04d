/**
 * `npm run bench -- orders`: how many orders per second the stack sustains, next to what its
 * databases alone can do, on this machine, in one run.
 *
 * 1. Starts its own PostgreSQL (embedded, `STACK_PG_PORT`, default 5434, with
 *    pg_stat_statements) unless `DATABASE_URL` names a server, then the stack (`npm start`,
 *    ports from `GATEWAY_PORT`, `ORDER_PORT`, `INVENTORY_PORT`, `PAYMENT_PORT`).
 * 2. Statements of one order: logs every statement while single orders are placed, keeps the
 *    quietest order's statements per database (transactions and statements per order).
 * 3. Capacity: k6 (`K6_BIN`, `k6`, or ~/go/bin/k6) places one-item orders through the gateway at
 *    a ramping arrival rate (open model); after a warm-up at half the first rate, the rate is
 *    searched (grow by 1.5x, then bisect) for the highest one with p99 < 500 ms, no failed
 *    request and every order CONFIRMED, at processor latency 0 and at the payment service's
 *    default latency. Transactions and statements per order on each database are counted over
 *    the best step (pg_stat_database, pg_stat_statements), and the CPU each process used per
 *    order (/proc).
 * 4. Overload (latency 0): 2.5x the best rate for a while: how many answers were 429/503 with
 *    Retry-After, how fast, how many timed out, the most PENDING orders, and how long after the
 *    load stops until nothing is PENDING and a new order is CONFIRMED within 500 ms.
 * 5. SQL ceiling: pgbench replays one order's statements (from 2.) on each database at once, at
 *    the services' pool size (10 clients each), on the same server: orders/s the databases alone
 *    can do is the lowest of the three (skipped, with a message, without pgbench).
 * 6. Prints the table and the ratios (achieved / ceiling, default latency / latency 0) and writes
 *    them as JSON in `.data/bench/`.
 *
 *   npm run bench -- orders               # about 5 minutes
 *   npm run bench -- orders --quick      # under 2 minutes (CI): shorter steps, fewer of them
 *   npm run bench -- orders --counts     # only the statements, transactions and CPU per order
 *                                        # (at 50 orders/s; with --profile, a CPU profile too)
 *   npm run bench -- orders --profile    # also a CPU profile (node --cpu-prof) of the order
 *                                        # service and the gateway at the best rate, summarised
 *
 * Run it alone on the machine (others' load skews it); it prints the load average.
 */
import { execFile, spawn, spawnSync } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { homedir, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs, promisify } from "node:util"
import { startPersistentPostgres } from "../libs/testing/src/Postgres.ts"
import type { EmbeddedPostgres } from "../libs/testing/src/Postgres.ts"
import { signLocalToken } from "../tools/localToken.ts"
import { cpuMicrosPer, cpuMillis } from "./lib.ts"
import { summariseProfiles } from "./profile.ts"

const root = fileURLToPath(new URL("..", import.meta.url))
const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    counts: { type: "boolean", default: false },
    profile: { type: "boolean", default: false }
  }
})
const quick = flags.quick
const env = process.env
const ports = {
  gateway: Number(env["GATEWAY_PORT"] || 8080),
  order: Number(env["ORDER_PORT"] || 8081),
  inventory: Number(env["INVENTORY_PORT"] || 8082),
  payment: Number(env["PAYMENT_PORT"] || 8083),
  postgres: Number(env["STACK_PG_PORT"] || 5434)
}
const gateway = `http://127.0.0.1:${ports.gateway}`
const databases = ["order", "inventory", "payment"] as const
type Db = (typeof databases)[number]
const sku = "BENCH-1"
const run = promisify(execFile)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const say = (text: string) => console.log(`[bench] ${text}`)
const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(" ")

// ---------------------------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------------------------

let server: EmbeddedPostgres | undefined
let serverLog = ""
let capturing = false

const startServer = async (): Promise<string> => {
  if (env["DATABASE_URL"]) return env["DATABASE_URL"]
  const dataDir = mkdtempSync(join(tmpdir(), "bench-pg-"))
  const options = {
    dataDir,
    port: ports.postgres,
    onLog: (text: string) => {
      if (capturing) serverLog += text
    }
  }
  server = await startPersistentPostgres(options)
  // pg_stat_statements is loaded at start only: set it, then restart.
  await psql(server.url, "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
  await psql(server.url, "ALTER SYSTEM SET log_line_prefix = '@@%d|%c|'")
  await server.stop()
  server = await startPersistentPostgres(options)
  await psql(server.url, "CREATE EXTENSION pg_stat_statements")
  return server.url
}

const stopServer = async () => {
  if (server === undefined) return
  await server.stop()
  rmSync(server.dataDir, { recursive: true, force: true })
}

const psql = async (url: string, query: string): Promise<Array<Array<string>>> => {
  const { stdout } = await run("psql", [
    "-X",
    "-A",
    "-t",
    "-F",
    "\t",
    "-v",
    "ON_ERROR_STOP=1",
    "-c",
    query,
    url
  ])
  return stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.split("\t"))
}

const dbUrl = (serverUrl: string, db: Db) => {
  const url = new URL(serverUrl)
  url.pathname = `/acme_${db}`
  return url.toString()
}

// ---------------------------------------------------------------------------------------------
// The stack
// ---------------------------------------------------------------------------------------------

const startStack = (serverUrl: string, extra: Record<string, string>) =>
  new Promise<ChildProcess>((resolve, reject) => {
    const stack = spawn(process.execPath, [join(root, "tools/stack/start.ts")], {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...env,
        ...extra,
        DATABASE_URL: serverUrl,
        GATEWAY_PORT: String(ports.gateway),
        ORDER_PORT: String(ports.order),
        INVENTORY_PORT: String(ports.inventory),
        PAYMENT_PORT: String(ports.payment),
        LOG_LEVEL: "Warn",
        // Load comes from a few hundred customers: keep per-customer limits out of the way.
        RATE_LIMIT_PER_SECOND: "1000",
        RATE_LIMIT_BURST: "1000"
      }
    })
    let seen = ""
    const timer = setTimeout(
      () => reject(new Error(`the stack was not ready within 120 s:\n${seen}`)),
      120_000
    )
    const onData = (chunk: Buffer) => {
      seen += chunk
      if (seen.includes("Press Ctrl-C to stop.")) {
        clearTimeout(timer)
        resolve(stack)
      }
    }
    stack.stdout!.on("data", onData)
    stack.stderr!.on("data", onData)
    stack.once("exit", (code) =>
      reject(new Error(`the stack exited (${code}) before it was ready:\n${seen}`))
    )
  })

const stopStack = (stack: ChildProcess) =>
  new Promise<void>((resolve) => {
    stack.removeAllListeners("exit")
    stack.once("exit", () => resolve())
    process.kill(-stack.pid!, "SIGINT")
  })

// ---------------------------------------------------------------------------------------------
// Orders
// ---------------------------------------------------------------------------------------------

let tokens: Array<string> = []

const placeOne = async (key: string) => {
  const started = performance.now()
  const response = await fetch(`${gateway}/v1/orders`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${tokens[0]}`,
      "content-type": "application/json",
      "idempotency-key": key
    },
    body: JSON.stringify({ items: [{ sku, quantity: 1 }], payment: { token: "tok_visa" } })
  })
  const body = (await response.json()) as { id?: string; status?: string }
  return { status: response.status, body, millis: performance.now() - started }
}

const seed = async () => {
  const response = await fetch(`http://127.0.0.1:${ports.inventory}/products/${sku}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      name: "Bench bolt",
      price: { amount: 100, currency: "EUR" },
      available: 1_000_000
    })
  })
  if (!response.ok) throw new Error(`seeding ${sku}: ${response.status} ${await response.text()}`)
}

const pendingOrders = async (serverUrl: string) =>
  Number(
    (await psql(dbUrl(serverUrl, "order"), "SELECT count(*) FROM orders WHERE status = 'PENDING'"))[0][0]
  )

/** Waits until no order is PENDING (or `limitMs` passed): how long it took. */
const drain = async (serverUrl: string, limitMs: number) => {
  const started = performance.now()
  while (performance.now() - started < limitMs && (await pendingOrders(serverUrl)) > 0) await sleep(250)
  return performance.now() - started
}

// ---------------------------------------------------------------------------------------------
// Statements of one order
// ---------------------------------------------------------------------------------------------

interface Logged {
  readonly db: string
  readonly sql: string
}

const literal = /\$(\d+) = (NULL|'(?:[^']|'')*')/g

/** The statements the server logged (`log_statement = all`), parameters inlined. */
const parseLog = (text: string): Array<Logged> => {
  const records: Array<{ db: string; kind: string; text: string }> = []
  for (const line of text.split("\n")) {
    const match = /^@@([^|]*)\|[^|]*\|(\w+):\s+(.*)$/.exec(line)
    if (match) records.push({ db: match[1], kind: match[2], text: match[3] })
    else if (records.length > 0) records[records.length - 1].text += `\n${line}`
  }
  const statements: Array<Logged> = []
  for (const record of records) {
    if (record.kind === "LOG") {
      const statement = /^(?:statement|execute [^:]*): ([\s\S]*)$/.exec(record.text)
      if (statement) statements.push({ db: record.db, sql: statement[1].trim() })
    } else if (record.kind === "DETAIL" && record.text.startsWith("Parameters:") && statements.length > 0) {
      const last = statements[statements.length - 1]
      const values = new Map<string, string>()
      for (const [, n, value] of record.text.matchAll(literal)) values.set(n, value)
      statements[statements.length - 1] = {
        ...last,
        sql: last.sql.replace(/\$(\d+)(?!\d)/g, (whole, n: string) => values.get(n) ?? whole)
      }
    }
  }
  return statements
}

interface PerOrder {
  /** Each database's statements for one order, ids made unique per pgbench run. */
  readonly scripts: Record<Db, Array<string>>
  readonly statements: Record<Db, number>
  readonly transactions: Record<Db, number>
}

/** Places single orders with every statement logged; keeps the quietest order's, per database. */
const statementsOfOneOrder = async (serverUrl: string): Promise<PerOrder | undefined> => {
  if (server === undefined) return undefined
  await psql(serverUrl, "ALTER SYSTEM SET log_statement = 'all'")
  await psql(serverUrl, "SELECT pg_reload_conf()")
  await sleep(500)
  const best = {} as Record<Db, Array<string> | undefined>
  for (let i = 0; i < 6; i++) {
    const key = `bench-key-${Date.now()}-${i}`
    serverLog = ""
    capturing = true
    const placed = await placeOne(key)
    await sleep(400)
    capturing = false
    const id = placed.body.id
    if (placed.status !== 201 || id === undefined) continue
    const statements = parseLog(serverLog)
    for (const db of databases) {
      const mine = statements
        .filter((s) => s.db === `acme_${db}`)
        .map((s) =>
          s.sql
            .replaceAll(id, "00000000-0000-4000-8000-:uid")
            .replaceAll(key, "bench-:uid")
            // An outbox row is finished by its id and claim token, both the server's: replayed,
            // the order's pending row is found by its saga instead (an index lookup too).
            .replace(
              /WHERE\s+id = '\d+' AND claim_token = '[0-9a-f-]+'::uuid/g,
              "WHERE saga_id = '00000000-0000-4000-8000-:uid' AND status = 'pending'"
            )
        )
      if (best[db] === undefined || mine.length < best[db].length) best[db] = mine
    }
  }
  await psql(serverUrl, "ALTER SYSTEM RESET log_statement")
  await psql(serverUrl, "SELECT pg_reload_conf()")
  const scripts = best as Record<Db, Array<string>>
  const count = (pattern: RegExp) =>
    Object.fromEntries(
      databases.map((db) => [db, (scripts[db] ?? []).filter((s) => pattern.test(s)).length])
    ) as Record<Db, number>
  return {
    scripts,
    statements: count(/./),
    transactions: count(/^(BEGIN|COMMIT)\b/i)
  }
}

// ---------------------------------------------------------------------------------------------
// Load steps
// ---------------------------------------------------------------------------------------------

const findK6 = () => {
  const candidates = [env["K6_BIN"], "k6", join(env["GOPATH"] ?? join(homedir(), "go"), "bin/k6")]
  const found = candidates.find((bin) => bin !== undefined && spawnSync(bin, ["version"]).status === 0)
  if (found === undefined) throw new Error("k6 not found: set K6_BIN, or go install go.k6.io/k6@v1.4.2")
  return found
}

interface Step {
  readonly rate: number
  readonly placed: number
  readonly confirmed: number
  readonly p50: number
  readonly p99: number
  readonly failed: number
  readonly dropped: number
  readonly overloaded: number
  readonly withRetryAfter: number
  readonly timedOut: number
  readonly overloadP99: number | null
  readonly pass: boolean
  /** When the load ended (`performance.now()`). */
  readonly endedAt: number
  /** Per placed order, on each database, over the step. */
  readonly perOrder: {
    transactions: Record<Db, number>
    statements: Record<Db, number> | null
    /** Milliseconds of CPU per placed order, by process (services, postgres), over the load. */
    cpuMs: Record<string, number>
  }
}

const dbCounters = async (serverUrl: string) => {
  const xacts = Object.fromEntries(
    (
      await psql(
        serverUrl,
        "SELECT datname, xact_commit + xact_rollback FROM pg_stat_database WHERE datname LIKE 'acme_%'"
      )
    ).map(([name, n]) => [name, Number(n)])
  )
  const statements = await psql(
    serverUrl,
    "SELECT d.datname, sum(s.calls) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname LIKE 'acme_%' GROUP BY 1"
  ).then(
    (rows): Record<string, number> | null => Object.fromEntries(rows.map(([name, n]) => [name, Number(n)])),
    () => null // no pg_stat_statements on this server
  )
  return { xacts, statements }
}

/** The stack's processes by part: the four services (by their bundle's or source's path), and every `postgres`. */
const stackPart = (_pid: number, comm: string, cmdline: () => string) =>
  comm === "postgres" ? comm : /(?:build|apps)\/(gateway|order|inventory|payment)\//.exec(cmdline())?.[1]

const k6 = findK6()
let stepNumber = 0

const loadStep = async (serverUrl: string, rate: number, holdSeconds: number): Promise<Step> => {
  const summaryFile = join(tmpdir(), `bench-orders-${process.pid}-${stepNumber++}.json`)
  try {
    await psql(serverUrl, "SELECT pg_stat_statements_reset()")
  } catch {
    // no pg_stat_statements on this server
  }
  const before = await dbCounters(serverUrl)
  const cpuBefore = cpuMillis(stackPart)
  const k6Run = spawnSync(k6, ["run", "--quiet", "--no-usage-report", join(root, "bench/orders.js")], {
    encoding: "utf8",
    env: {
      ...env,
      BASE_URL: gateway,
      TOKENS: JSON.stringify(tokens),
      SKU: sku,
      RATE: String(rate),
      RAMP: quick ? "2s" : "3s",
      HOLD: `${holdSeconds}s`,
      SUMMARY: summaryFile
    }
  })
  const endedAt = performance.now()
  const cpuAfter = cpuMillis(stackPart)
  if (!existsSync(summaryFile)) throw new Error(`k6 wrote no summary:\n${k6Run.stdout}\n${k6Run.stderr}`)
  const data = JSON.parse(readFileSync(summaryFile, "utf8")) as {
    metrics: Record<string, { values: Record<string, number> } | undefined>
  }
  rmSync(summaryFile)
  await sleep(1500) // server statistics are flushed about every second
  const after = await dbCounters(serverUrl)
  const value = (metric: string, stat: string) => data.metrics[metric]?.values[stat] ?? 0
  const placed = value("http_reqs", "count")
  const perOrder = (field: "xacts" | "statements") =>
    after[field] === null || before[field] === null
      ? null
      : (Object.fromEntries(
          databases.map((db) => [
            db,
            round(
              ((after[field]![`acme_${db}`] ?? 0) - (before[field]![`acme_${db}`] ?? 0)) /
                Math.max(placed, 1),
              1
            )
          ])
        ) as Record<Db, number>)
  const step = {
    rate,
    placed,
    confirmed: value("orders_confirmed", "count"),
    p50: round(value("http_req_duration", "p(50)")),
    p99: round(value("http_req_duration", "p(99)")),
    failed: value("http_req_failed", "passes"),
    dropped: value("dropped_iterations", "count"),
    overloaded: value("overload_answers", "count"),
    withRetryAfter: value("overload_with_retry_after", "count"),
    timedOut: value("timed_out", "count"),
    overloadP99:
      data.metrics["http_req_duration{status:503}"] || data.metrics["http_req_duration{status:429}"]
        ? round(
            Math.max(
              value("http_req_duration{status:503}", "p(99)"),
              value("http_req_duration{status:429}", "p(99)")
            )
          )
        : null,
    perOrder: {
      transactions: perOrder("xacts")!,
      statements: perOrder("statements"),
      cpuMs: Object.fromEntries(
        Object.entries(cpuMicrosPer(cpuBefore, cpuAfter, placed)).map(([part, us]) => [
          part,
          round(us / 1000, 2)
        ])
      )
    }
  }
  const complaints = `${k6Run.stdout}\n${k6Run.stderr}`
    .split("\n")
    .filter((line) => line.includes("level=warning"))
  if (complaints.length > 0) say(`some answers: ${complaints.slice(0, 4).join("\n  ")}`)
  const pass =
    step.p99 < 500 &&
    step.failed === 0 &&
    step.dropped === 0 &&
    step.placed > 0 &&
    step.confirmed === step.placed
  say(
    `${rate} orders/s: placed ${placed}, confirmed ${step.confirmed}, p50 ${step.p50} ms, p99 ${step.p99} ms, ` +
      `failed ${step.failed}, dropped ${step.dropped} -> ${pass ? "sustained" : "not sustained"} (load ${load()})`
  )
  return { ...step, pass, endedAt }
}

const round = (n: number, digits = 0) => Math.round(n * 10 ** digits) / 10 ** digits

/** The highest sustained rate: grow by 1.5x while it holds, then bisect. */
const search = async (serverUrl: string, start: number) => {
  const hold = quick ? 5 : 15
  const maxSteps = quick ? 6 : 9
  let best: Step | undefined
  let failedAt: number | undefined
  let rate = start
  // A freshly started stack runs its first seconds of load unoptimised (JIT): warm it up first.
  say("warm-up at half the first rate (not counted)")
  await recover(serverUrl)
  await loadStep(serverUrl, Math.round(start / 2), quick ? 3 : 5)
  for (let i = 0; i < maxSteps; i++) {
    await recover(serverUrl)
    const step = await loadStep(serverUrl, rate, hold)
    if (step.pass) best = step
    else failedAt = rate
    const low = best?.rate ?? 0
    if (failedAt === undefined) rate = Math.round(rate * 1.5)
    else {
      if (failedAt - low <= Math.max(10, low * 0.08)) break
      rate = Math.round((low + failedAt) / 2)
    }
  }
  return best
}

/**
 * Waits until the stack has recovered from the last step (nothing PENDING, and a new order
 * CONFIRMED within 500 ms: no open circuit breaker left), at most 30 s: how long it took.
 */
const recover = async (serverUrl: string) => {
  const started = performance.now()
  await drain(serverUrl, 30_000)
  let probe = await placeOne(`bench-probe-${Date.now()}`)
  while ((probe.status !== 201 || probe.millis > 500) && performance.now() - started < 30_000) {
    await sleep(200)
    probe = await placeOne(`bench-probe-${Date.now()}`)
  }
  return performance.now() - started
}

// ---------------------------------------------------------------------------------------------
// Overload
// ---------------------------------------------------------------------------------------------

const overload = async (serverUrl: string, rate: number) => {
  const hold = quick ? 6 : 15
  let maxPending = 0
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      maxPending = Math.max(maxPending, await pendingOrders(serverUrl))
      await sleep(250)
    }
  })()
  const step = await loadStep(serverUrl, rate, hold)
  sampling = false
  await sampler
  await recover(serverUrl)
  // From the end of the load, not from the end of the step's bookkeeping.
  const recoveredSeconds = round((performance.now() - step.endedAt) / 1000, 1)
  return { ...step, maxPending, recoveredSeconds }
}

// ---------------------------------------------------------------------------------------------
// SQL ceiling
// ---------------------------------------------------------------------------------------------

const ceiling = async (serverUrl: string, perOrder: PerOrder | undefined) => {
  if (spawnSync("pgbench", ["--version"]).status !== 0) {
    say("pgbench not found (PostgreSQL client tools): SQL ceiling skipped")
    return undefined
  }
  if (perOrder === undefined) {
    say("no statement log (DATABASE_URL server): SQL ceiling skipped")
    return undefined
  }
  const dir = mkdtempSync(join(tmpdir(), "bench-pgbench-"))
  const seconds = quick ? 5 : 15
  const clients = 10
  const results = await Promise.all(
    databases.map(async (db) => {
      const file = join(dir, `${db}.sql`)
      const script = perOrder.scripts[db].map((sql) => `${sql.replace(/;\s*$/, "")};`).join("\n")
      writeFileSync(file, `\\set uid random(100000000000, 999999999999)\n${script}\n`)
      const { stdout } = await run(
        "pgbench",
        [
          "-n",
          "-M",
          "simple",
          "-c",
          String(clients),
          "-j",
          "2",
          "-T",
          String(seconds),
          "-f",
          file,
          dbUrl(serverUrl, db)
        ],
        { maxBuffer: 1 << 24 }
      ).catch((error: { stdout?: string; stderr?: string }) => {
        say(`pgbench on acme_${db} failed:\n${(error.stderr ?? "").slice(0, 2000)}`)
        return { stdout: "" }
      })
      const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1] ?? "0")
      return [db, round(tps)] as const
    })
  )
  rmSync(dir, { recursive: true, force: true })
  const tps = Object.fromEntries(results) as Record<Db, number>
  return { clients, seconds, tps, ordersPerSecond: Math.min(...Object.values(tps)) }
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

const main = async () => {
  const started = performance.now()
  say(`load average before: ${load()}`)
  tokens = await Promise.all(
    Array.from({ length: 200 }, (_, i) => signLocalToken(`bench-${i + 1}`, { expiresIn: "2h" }))
  )
  const serverUrl = await startServer()
  const result: Record<string, unknown> = {
    quick,
    startedAt: new Date().toISOString(),
    loadBefore: loadavg()
  }
  let stack: ChildProcess | undefined
  try {
    // Processor latency 0: statements of one order, capacity, overload.
    say("stack at processor latency 0")
    stack = await startStack(serverUrl, { PROCESSOR_LATENCY: "0 millis", PROCESSOR_JITTER: "0 millis" })
    await seed()
    for (let i = 0; i < 20; i++) await placeOne(`bench-warm-${Date.now()}-${i}`)
    const perOrder = await statementsOfOneOrder(serverUrl)
    if (perOrder) {
      result.oneOrder = {
        statements: perOrder.statements,
        transactions: perOrder.transactions,
        scripts: perOrder.scripts
      }
      say(
        `one order: statements ${JSON.stringify(perOrder.statements)}, BEGIN+COMMIT ${JSON.stringify(perOrder.transactions)}`
      )
    }
    /** The stack restarted under `node --cpu-prof`, loaded at `rate` for a while, and its profiles summarised. */
    const profileAt = async (rate: number, seconds: number) => {
      const profiling = performance.now()
      if (stack) await stopStack(stack)
      const profiles = mkdtempSync(join(tmpdir(), "bench-prof-"))
      stack = await startStack(serverUrl, {
        PROCESSOR_LATENCY: "0 millis",
        PROCESSOR_JITTER: "0 millis",
        NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profiles}`
      })
      await seed()
      await loadStep(serverUrl, rate, seconds)
      await stopStack(stack)
      stack = undefined
      result.profile = {
        ...summariseProfiles(profiles),
        seconds: round((performance.now() - profiling) / 1000)
      }
    }
    if (flags.counts) {
      result.counts = await loadStep(serverUrl, 50, 10)
      if (flags.profile) await profileAt(50, 10)
      return result
    }
    const atZero = await search(serverUrl, 60)
    result.latency0 = atZero
    // Beyond capacity: 2.5x the best rate (or 100/s if none held).
    result.overload = await overload(serverUrl, Math.round((atZero?.rate ?? 40) * 2.5))
    if (atZero && flags.profile) await profileAt(atZero.rate, quick ? 6 : 15)
    if (stack) await stopStack(stack)

    // The payment service's default processor latency.
    say("stack at the default processor latency")
    stack = await startStack(serverUrl, {})
    await seed()
    for (let i = 0; i < 20; i++) await placeOne(`bench-warm-${Date.now()}-${i}`)
    result.latencyDefault = await search(serverUrl, atZero ? Math.round(atZero.rate * 0.8) : 50)
    await stopStack(stack)
    stack = undefined

    result.ceiling = await ceiling(serverUrl, perOrder)
    return result
  } finally {
    if (stack) await stopStack(stack)
    await stopServer()
    result.loadAfter = loadavg()
    result.seconds = round((performance.now() - started) / 1000)
  }
}

const report = (result: Record<string, any>) => {
  const zero = result.latency0?.rate ?? 0
  const normal = result.latencyDefault?.rate ?? 0
  const ceilingRate = result.ceiling?.ordersPerSecond
  result.ratios = {
    achievedOverCeiling: ceilingRate ? round(zero / ceilingRate, 2) : null,
    defaultOverZero: zero ? round(normal / zero, 2) : null
  }
  const row = (name: string, step: any) =>
    step
      ? `| ${name} | ${step.rate} | ${step.p50} | ${step.p99} | ${JSON.stringify(step.perOrder.transactions)} | ${JSON.stringify(step.perOrder.statements)} |`
      : `| ${name} | none sustained | | | | |`
  const lines = [
    "",
    "| run | sustained orders/s | p50 ms | p99 ms | transactions/order | statements/order |",
    "|---|---|---|---|---|---|",
    row("processor latency 0", result.latency0),
    row("default processor latency", result.latencyDefault),
    `| SQL ceiling (pgbench) | ${ceilingRate ?? "skipped"} | | | tps ${JSON.stringify(result.ceiling?.tps ?? null)} | |`,
    "",
    `achieved / ceiling: ${result.ratios.achievedOverCeiling ?? "n/a"}   default latency / latency 0: ${result.ratios.defaultOverZero ?? "n/a"}`
  ]
  for (const [name, step] of [
    ["latency 0", result.latency0],
    ["default latency", result.latencyDefault],
    ["latency 0", result.counts]
  ] as const) {
    const cpu: Record<string, number> | undefined = step?.perOrder.cpuMs
    if (cpu && Object.keys(cpu).length > 0) {
      const total = round(
        Object.values(cpu).reduce((sum, ms) => sum + ms, 0),
        2
      )
      lines.push(`CPU per order at ${name} (${step.rate}/s), ms: ${total} in all, ${JSON.stringify(cpu)}`)
    }
  }
  if (result.oneOrder)
    lines.push(
      `one order's statements: ${JSON.stringify(result.oneOrder.statements)}, BEGIN+COMMIT ${JSON.stringify(result.oneOrder.transactions)}`
    )
  const o = result.overload
  if (o)
    lines.push(
      `overload at ${o.rate}/s for ${quick ? 6 : 15} s: ${o.confirmed} confirmed, ${o.overloaded} answered 429/503 ` +
        `(${o.withRetryAfter} with Retry-After, p99 ${o.overloadP99} ms), ${o.timedOut} timed out, ` +
        `${o.placed - o.confirmed - o.overloaded - o.timedOut} other; at most ${o.maxPending} PENDING; ` +
        `recovered ${o.recoveredSeconds} s after the load stopped`
    )
  if (result.profile)
    lines.push(
      "",
      `CPU profile (self time; the profiling run took ${result.profile.seconds} s):`,
      ...result.profile.lines
    )
  lines.push(
    `load average before ${result.loadBefore.map((n: number) => n.toFixed(2)).join(" ")}, after ${result.loadAfter.map((n: number) => n.toFixed(2)).join(" ")}; ${result.seconds} s`
  )
  console.log(lines.join("\n"))
  const dir = join(root, ".data", "bench")
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `orders-${new Date().toISOString().replace(/[:.]/g, "-")}.json`)
  writeFileSync(file, JSON.stringify(result, null, 2))
  say(`written ${file}`)
}

main().then(
  (result) => {
    report(result)
    process.exit(0)
  },
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
