/**
 * Smoke test of `npm start` (for CI):
 *
 *   node tools/stack/smoke.ts [--runtime deno] [other flags of start.ts]
 *
 * Starts `node tools/stack/start.ts <flags>` as a child process, waits for its ready banner
 * (at most 180 s), checks that every service in it answers `/health/ready` with 200 and
 * `/openapi.json` with 200 and a JSON document, then sends SIGINT to the stack's process group
 * (as Ctrl-C in a terminal does) and checks that it exits 0 within 30 s, that none of its
 * processes (services, PostgreSQL and its backends) is left, that the ports are free again and
 * that the embedded PostgreSQL shut down cleanly (no `postmaster.pid` left). The stack's output
 * is echoed, prefixed with `| `. Exits 0 if all holds, 1 otherwise (after killing what is left).
 *
 * It uses the same ports and `.data/` as `npm start` (environment variables are passed on).
 */
import { execFileSync, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { createServer } from "node:net"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { setTimeout as sleep } from "node:timers/promises"
import { bannerEnd } from "./banner.ts"
import { postgresDir, root } from "./config.ts"

const readyTimeoutMs = 180_000
const exitTimeoutMs = 30_000

const failures: Array<string> = []
const check = (ok: boolean, what: string) => {
  console.log(`smoke: ${ok ? "ok  " : "FAIL"} ${what}`)
  if (!ok) failures.push(what)
}

/** Every process below `pid` (children, grandchildren...), from `ps`. */
const descendants = (pid: number): Array<number> => {
  const children = new Map<number, Array<number>>()
  for (const line of execFileSync("ps", ["-A", "-o", "pid=,ppid="], { encoding: "utf8" }).split("\n")) {
    const [child, parent] = line.trim().split(/\s+/).map(Number)
    if (child && parent) children.set(parent, [...(children.get(parent) ?? []), child])
  }
  const found: Array<number> = []
  const visit = (parent: number) => {
    for (const child of children.get(parent) ?? []) {
      found.push(child)
      visit(child)
    }
  }
  visit(pid)
  return found
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const isFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer()
    server.once("error", () => resolve(false))
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve(true)))
  })

const fetchChecked = async (url: string, json: boolean) => {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) })
    const body = await response.text()
    if (json) JSON.parse(body)
    return `${response.status}${json ? ` ${response.headers.get("content-type")}` : ""}`
  } catch (error) {
    return String(error)
  }
}

// ---------------------------------------------------------------------------------------------

const started = performance.now()
const stack = spawn(process.execPath, [join(root, "tools", "stack", "start.ts"), ...process.argv.slice(2)], {
  cwd: root,
  stdio: ["ignore", "pipe", "pipe"],
  detached: true // its own process group, to signal it like a terminal does
})
const stackPid = stack.pid!
const exited = new Promise<number | null>((resolve) => stack.on("exit", (code) => resolve(code)))
const ports = new Set<number>()
let postgresPort: number | undefined
const banner = new Promise<boolean>((resolve) => {
  for (const stream of [stack.stdout, stack.stderr]) {
    createInterface({ input: stream }).on("line", (line) => {
      console.log(`| ${line}`)
      for (const match of line.matchAll(/http:\/\/localhost:(\d+)\/openapi\.json/g))
        ports.add(Number(match[1]))
      const postgres = /postgres starting on 127\.0\.0\.1:(\d+)/.exec(line)
      if (postgres) postgresPort = Number(postgres[1])
      if (line.includes(bannerEnd)) resolve(true)
    })
  }
  void exited.then(() => resolve(false))
  void sleep(readyTimeoutMs).then(() => resolve(false))
})

const ready = await banner
check(ready, `stack ready (banner) in ${((performance.now() - started) / 1000).toFixed(1)} s`)
let processes: Array<number> = []
if (ready) {
  check(ports.size === 4, `banner lists 4 OpenAPI URLs (ports ${[...ports].join(", ")})`)
  processes = descendants(stackPid)
  for (const port of ports) {
    const health = await fetchChecked(`http://127.0.0.1:${port}/health/ready`, false)
    check(health === "200", `:${port}/health/ready -> ${health}`)
    const openapi = await fetchChecked(`http://127.0.0.1:${port}/openapi.json`, true)
    check(/^200 application\/json/.test(openapi), `:${port}/openapi.json -> ${openapi}`)
  }
}

const stopped = performance.now()
if (stack.exitCode === null && stack.signalCode === null) process.kill(-stackPid, "SIGINT")
const code = await Promise.race([exited, sleep(exitTimeoutMs, "timeout" as const)])
check(
  code === 0,
  `stack exits 0 on SIGINT (got ${code}) in ${((performance.now() - stopped) / 1000).toFixed(1)} s`
)
if (ready) {
  await sleep(200) // let orphans, if any, be reparented and reaped
  const left = processes.filter(alive)
  check(
    left.length === 0,
    `no process of the stack left (had ${processes.length}: ${left.join(" ") || "none left"})`
  )
  for (const port of [...ports, ...(postgresPort ? [postgresPort] : [])])
    check(await isFree(port), `port ${port} free again`)
  check(
    !existsSync(join(postgresDir, "postmaster.pid")),
    "embedded PostgreSQL shut down cleanly (no postmaster.pid)"
  )
}

if (failures.length > 0) {
  for (const pid of [stackPid, ...descendants(stackPid), ...processes]) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
  console.log(`smoke: FAILED (${failures.length}): ${failures.join("; ")}`)
  process.exit(1)
}
console.log(`smoke: passed in ${((performance.now() - started) / 1000).toFixed(1)} s`)
process.exit(0)
