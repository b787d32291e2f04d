/**
 * Helpers shared by the rehearsal (`rolling-restart.ts`) and the sizing measurement
 * (`measure.ts`): a PostgreSQL server (the repo's embedded one unless a URL is given), services
 * started from source as real processes, readiness polling, RSS and CPU sampling from /proc,
 * and k6.
 *
 * Runs on Node 24 from the TypeScript source (type stripping), like the services.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { Reactivity } from "effect/reactivity"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { createWriteStream, existsSync, readFileSync } from "node:fs"
import { request } from "node:http"
import { createServer } from "node:net"
import type { AddressInfo } from "node:net"
import { join, resolve } from "node:path"
import { createInterface } from "node:readline"
import { setTimeout as sleep } from "node:timers/promises"
import { fileURLToPath } from "node:url"
import { startEmbeddedPostgres } from "../../libs/testing/src/Postgres.ts"

/** The repository root. */
export const root = resolve(fileURLToPath(new URL("../..", import.meta.url)))

export const now = (() => {
  const started = performance.now()
  return () => (performance.now() - started) / 1000
})()

export const log = (message: string) => console.log(`[${now().toFixed(1).padStart(5)}s] ${message}`)

/** A free TCP port on 127.0.0.1 (there is a small race until someone binds it). */
export const freePort = (): Promise<number> =>
  new Promise((resolvePort, reject) => {
    const server = createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolvePort(port))
    })
  })

// ---------------------------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------------------------

export interface Postgres {
  /** URL of a maintenance database on the server. */
  readonly url: string
  /** Creates a fresh database and returns its URL. */
  readonly createDatabase: (name: string) => Promise<string>
  readonly stop: () => Promise<void>
}

const onServer = (url: string, statement: string) =>
  Effect.runPromise(
    PgClient.makeClient({ url: Redacted.make(url) }).pipe(
      Effect.flatMap((sql) => sql.unsafe(statement)),
      Effect.scoped,
      Effect.provide(Reactivity.layer)
    )
  )

const withDatabase = (url: string, database: string) => {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

/**
 * The repo's embedded PostgreSQL (a throw-away server in a temporary directory), or the server
 * at `serverUrl` when given. Databases created here are dropped by `stop()`.
 */
export const startPostgres = async (serverUrl: string | undefined): Promise<Postgres> => {
  const embedded = serverUrl ? undefined : await startEmbeddedPostgres()
  const url = serverUrl ?? embedded!.url
  const created: Array<string> = []
  return {
    url,
    createDatabase: async (name) => {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`)
      await onServer(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await onServer(url, `CREATE DATABASE ${name}`)
      created.push(name)
      return withDatabase(url, name)
    },
    stop: async () => {
      if (embedded) return embedded.stop()
      for (const name of created) {
        await onServer(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined)
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Services as processes
// ---------------------------------------------------------------------------------------------

export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface ServiceProcess {
  readonly name: string
  readonly port: number
  readonly pid: number
  readonly child: ChildProcess
  readonly exited: Promise<Exit>
  /** Log lines (parsed JSON where possible), kept in memory. */
  readonly lines: Array<Record<string, unknown>>
  readonly stop: (timeoutMs?: number) => Promise<Exit>
}

/**
 * Starts `apps/<app>/src/main.ts` (or another entry) with `env` on top of a minimal
 * environment (PATH and HOME only: nothing else leaks in from the caller's shell). Output goes
 * to `<logDir>/<name>.log`.
 */
export const startService = (options: {
  readonly name: string
  readonly app: string
  readonly port: number
  readonly env: Record<string, string>
  readonly logDir: string
  readonly entry?: string | undefined
}): ServiceProcess => {
  const entry = options.entry ?? join("apps", options.app, "src", "main.ts")
  const child = spawn(process.execPath, [entry], {
    cwd: root,
    env: {
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      HOME: process.env["HOME"] ?? "/tmp",
      HOST: "127.0.0.1",
      PORT: String(options.port),
      ...options.env
    },
    stdio: ["ignore", "pipe", "pipe"]
  })
  const file = createWriteStream(join(options.logDir, `${options.name}.log`))
  const lines: Array<Record<string, unknown>> = []
  const follow = (stream: NodeJS.ReadableStream) =>
    createInterface({ input: stream, crlfDelay: Infinity }).on("line", (text) => {
      file.write(text + "\n")
      try {
        lines.push(JSON.parse(text) as Record<string, unknown>)
      } catch {
        lines.push({ message: text })
      }
    })
  follow(child.stdout!)
  follow(child.stderr!)
  const exited = new Promise<Exit>((resolveExit) =>
    child.on("exit", (code, signal) => {
      file.end()
      resolveExit({ code, signal })
    })
  )
  const stop = async (timeoutMs = 40_000) => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    const exit = await exited
    clearTimeout(timer)
    return exit
  }
  return { name: options.name, port: options.port, pid: child.pid!, child, exited, lines, stop }
}

export const describeExit = (exit: Exit) => (exit.signal ? `killed by ${exit.signal}` : `exit ${exit.code}`)

/** GET a path on 127.0.0.1; resolves with the status (0 when no answer within `timeoutMs`). */
export const httpStatus = (port: number, path: string, timeoutMs = 1000): Promise<number> =>
  new Promise((resolveStatus) => {
    const req = request(
      { host: "127.0.0.1", port, path, method: "GET", timeout: timeoutMs, agent: false },
      (res) => {
        res.resume()
        res.on("end", () => resolveStatus(res.statusCode ?? 0))
        res.on("error", () => resolveStatus(0))
      }
    )
    req.on("timeout", () => req.destroy())
    req.on("error", () => resolveStatus(0))
    req.end()
  })

/** Waits until `path` answers 200, or fails after `timeoutMs` (or when the process exits). */
export const waitFor = async (service: ServiceProcess, path: string, timeoutMs = 60_000): Promise<number> => {
  const started = now()
  let exited: Exit | undefined
  void service.exited.then((exit) => (exited = exit))
  while (now() - started < timeoutMs / 1000) {
    if (exited) {
      const tail = service.lines
        .slice(-15)
        .map((line) => JSON.stringify(line))
        .join("\n")
      throw new Error(
        `${service.name} exited (${describeExit(exited)}) before ${path} answered 200:\n${tail}`
      )
    }
    if ((await httpStatus(service.port, path)) === 200) return now() - started
    await sleep(100)
  }
  throw new Error(`${service.name}: ${path} did not answer 200 within ${timeoutMs} ms`)
}

// ---------------------------------------------------------------------------------------------
// Resource sampling (Linux /proc)
// ---------------------------------------------------------------------------------------------

/** Resident set size in MiB (VmRSS), or undefined once the process is gone. */
export const rssMiB = (pid: number): number | undefined => {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return match ? Number(match[1]) / 1024 : undefined
  } catch {
    return undefined
  }
}

const clockTicks = 100 // USER_HZ: 100 on every Linux architecture Node supports

/** CPU seconds used so far (user + system), or undefined once the process is gone. */
export const cpuSeconds = (pid: number): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / clockTicks
  } catch {
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------
// k6
// ---------------------------------------------------------------------------------------------

/** The k6 binary: `$K6`, else the one check.sh installs, else `k6` on PATH. */
export const k6Binary = (): string => {
  if (process.env["K6"]) return process.env["K6"]
  const cached = join(
    process.env["K8S_CHECK_CACHE"] ?? join(process.env["HOME"] ?? "/tmp", ".cache", "acme-k8s-check"),
    "bin",
    "k6"
  )
  return existsSync(cached) ? cached : "k6"
}

/** Runs k6 with `args`; resolves with its exit code. Its output is passed through. */
export const runK6 = (args: ReadonlyArray<string>, env: Record<string, string>): Promise<number> =>
  new Promise((resolveCode, reject) => {
    const child = spawn(k6Binary(), ["run", "--quiet", "--no-color", ...args], {
      cwd: root,
      env: { ...process.env, K6_NO_USAGE_REPORT: "true", ...env },
      stdio: ["ignore", "inherit", "inherit"]
    })
    child.on("error", reject)
    child.on("exit", (code, signal) => resolveCode(code ?? (signal ? 128 : 1)))
  })
