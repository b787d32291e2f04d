/** What the bench (http.ts, orders.ts) and the soak check (soak.ts) share: processes, load, figures. */
import autocannon from "autocannon"
import { spawn, spawnSync } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync } from "node:fs"
import { createServer } from "node:net"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import pg from "pg"
import { buildApp } from "../tools/build-app.ts"
import { signLocalToken } from "../tools/localToken.ts"

export const root = new URL("..", import.meta.url).pathname
export const outDir = join(root, "bench/results")
mkdirSync(outDir, { recursive: true })
export const stamp = new Date().toISOString().replace(/[:.]/g, "-")
const deno = join(root, "node_modules/.bin/deno")
const serverUrl = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres"

/**
 * Holds `flock /tmp/acme-bench.lock` (BENCH_LOCK) for the whole command, when `flock` exists:
 * runs this same command again under it, once, and exits with its status.
 */
export const holdBenchLock = () => {
  const lock = process.env["BENCH_LOCK"] ?? "/tmp/acme-bench.lock"
  if (process.env["BENCH_LOCKED"] !== undefined || spawnSync("flock", ["--version"]).status !== 0) return
  console.error(`waiting for ${lock} ...`)
  const child = spawnSync("flock", [lock, process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, BENCH_LOCKED: "1" }
  })
  process.exit(child.status ?? 1)
}

let nextPort = Number(process.env["BENCH_PORT_BASE"] ?? 0)
/** A free port, or the next one from BENCH_PORT_BASE. */
export const port = async (): Promise<number> => {
  if (nextPort > 0) return nextPort++
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

const onServer = async (statement: string) => {
  const client = new pg.Client({ connectionString: serverUrl })
  await client.connect()
  try {
    await client.query(statement)
  } finally {
    await client.end()
  }
}

/** A fresh database on DATABASE_URL's server for the run; `drop` removes it. */
export const makeDatabase = async (prefix: string) => {
  const name = `${prefix}_${Date.now().toString(36)}`
  await onServer(`CREATE DATABASE ${name}`)
  return {
    url: Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString(),
    drop: () => onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {})
  }
}

export interface Proc {
  readonly name: string
  readonly url: string
  readonly adminUrl: string
  readonly child: ChildProcess
}
export const procs: Array<Proc> = []

/** Starts a process (its log in bench/results/) and waits until `ready` answers 200. */
export const start = async (
  name: string,
  runtime: "node" | "deno",
  script: string,
  env: Record<string, string>,
  ready: string
): Promise<Proc> => {
  const [httpPort, adminPort] = [await port(), await port()]
  const log = openSync(join(outDir, `${stamp}-${name}.log`), "w")
  const command = runtime === "node" ? [process.execPath, script] : [deno, "run", "-A", script]
  const child = spawn(command[0]!, command.slice(1), {
    cwd: root,
    env: {
      ...process.env,
      HOST: "127.0.0.1",
      PORT: String(httpPort),
      ADMIN_PORT: String(adminPort),
      SHUTDOWN_DRAIN_DELAY: "0 millis",
      ...env
    },
    stdio: ["ignore", log, log]
  })
  closeSync(log)
  const proc = { name, url: `http://127.0.0.1:${httpPort}`, adminUrl: `http://127.0.0.1:${adminPort}`, child }
  procs.push(proc)
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null)
      throw new Error(`${name} exited (${child.exitCode}); see its log in ${outDir}`)
    const ok = await fetch(proc.url + ready, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false
    )
    if (ok) return proc
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${name} did not answer ${ready}`)
}

const bundles: Record<string, Promise<string>> = {}
/**
 * What a service runs in a bench: on Node its production bundle, as the images and `npm start`
 * do (built once per bench run, into bench/dist/); on Deno its sources.
 */
export const entryOf = async (runtime: "node" | "deno", app: string): Promise<string> => {
  if (runtime === "deno") return `apps/${app}/src/main.ts`
  const outfile = join(root, "bench", "dist", app, "main.js")
  bundles[outfile] ??= buildApp(join(root, "apps", app), outfile)
  return bundles[outfile]
}

/**
 * Starts inventory (demo catalog) and the gateway in front of it: the services' own entries, or
 * the given bundles (`npm run bench -- compare` runs two builds side by side, `label` tells them apart).
 */
export const startPair = async (
  runtime: "node" | "deno",
  databaseUrl: string,
  build?: { readonly label: string; readonly inventory: string; readonly gateway: string }
) => {
  const suffix = build === undefined ? runtime : `${build.label}-${runtime}`
  const inventory = await start(
    `inventory-${suffix}`,
    runtime,
    build?.inventory ?? (await entryOf(runtime, "inventory")),
    { DATABASE_URL: databaseUrl, SEED_DEMO_DATA: "true" },
    "/health/ready"
  )
  const gateway = await start(
    `gateway-${suffix}`,
    runtime,
    build?.gateway ?? (await entryOf(runtime, "gateway")),
    {
      INVENTORY_URL: inventory.url,
      // Not called here: the gateway reports not ready, and serves regardless.
      ORDER_URL: "http://127.0.0.1:9",
      // One caller: a rate limit it cannot reach.
      RATE_LIMIT_PER_SECOND: "1000000000",
      RATE_LIMIT_BURST: "1000000000"
    },
    "/health/live"
  )
  return { inventory, gateway }
}

/** The header of the one caller the bench and the soak send as. */
export const authorization = async () => ({
  authorization: `Bearer ${await signLocalToken("bench", { expiresIn: "2h" })}`
})

/** SIGTERMs every process started and waits for it to exit. */
export const stopAll = () =>
  Promise.all(
    procs.map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve()
          child.once("exit", () => resolve())
          child.kill("SIGTERM")
        })
    )
  )

/** Resident set size of a process, MB (Linux). */
export const rssOf = (pid: number | undefined): number | undefined => {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]
    return kb === undefined ? undefined : Number(kb) / 1024
  } catch {
    return undefined
  }
}

const clockTicks = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout) || 100

/**
 * CPU time (user + system, ms) used so far by the processes that `partOf` names (from their pid,
 * `comm` and command line), summed by name. From /proc: Linux only, empty elsewhere. Unlike a CPU
 * profile's busy time, it does not count the time a process waits for a core.
 */
export const cpuMillis = (
  partOf: (pid: number, comm: string, cmdline: () => string) => string | undefined
): Record<string, number> => {
  const totals: Record<string, number> = {}
  if (!existsSync("/proc/self/stat")) return totals
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))
      const part = partOf(Number(pid), comm, () => readFileSync(`/proc/${pid}/cmdline`, "utf8"))
      if (part === undefined) continue
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      const ticks = Number(fields[11]) + Number(fields[12]) // utime, stime
      totals[part] = (totals[part] ?? 0) + (ticks * 1000) / clockTicks
    } catch {
      // the process ended meanwhile
    }
  }
  return totals
}

/** What each part used between two `cpuMillis` readings, in microseconds per unit of work. */
export const cpuMicrosPer = (before: Record<string, number>, after: Record<string, number>, units: number) =>
  Object.fromEntries(
    Object.keys(after).map((part) => [
      part,
      Math.round(((after[part]! - (before[part] ?? 0)) * 1000) / Math.max(units, 1))
    ])
  )

export interface Sample {
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly errors: number
}

/**
 * One autocannon run (closed loop, or `rate` requests/s in all); latency percentiles from every
 * response's own time, not autocannon's whole-millisecond histogram.
 */
export const measure = async (
  url: string,
  connections: number,
  duration: number,
  headers: Record<string, string> = {},
  rate?: number
): Promise<Sample> => {
  const latencies: Array<number> = []
  const options = {
    url,
    connections,
    duration,
    headers,
    ...(rate === undefined ? {} : { overallRate: rate })
  }
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(options, (error, result) => (error ? reject(error) : resolve(result)))
    instance.on("response", (_client, _status, _bytes, ms: number) => latencies.push(ms))
  })
  latencies.sort((a, b) => a - b)
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN
  return {
    rps: result.requests.total / result.duration,
    p50: at(0.5),
    p99: at(0.99),
    errors: result.errors + result.timeouts + result.non2xx
  }
}

export const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}
