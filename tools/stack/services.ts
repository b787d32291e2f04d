/**
 * A service as a child process of the stack: its output is appended to
 * `.data/logs/<service>.log` as the bytes come (never parsed on the way, so a busy service costs
 * the stack next to nothing), and the console shows its warnings, errors and "listening on"
 * line (every line with `verbose`): only chunks that contain one of those are split into lines
 * and parsed. It runs in its own process group, so a Ctrl-C in the terminal reaches only the
 * stack, which stops it.
 */
import { spawn } from "node:child_process"
import { createWriteStream } from "node:fs"
import { request } from "node:http"
import { join } from "node:path"
import type { Readable } from "node:stream"
import { setTimeout as sleep } from "node:timers/promises"
import { buildApps } from "../build-app.ts"
import type { Runtime } from "./config.ts"
import { buildDir, logDir, root } from "./config.ts"
import { formatLine, isImportant, parseLine, print } from "./output.ts"

export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export const describeExit = ({ code, signal }: Exit) => (signal ? `killed by ${signal}` : `exit code ${code}`)

export interface ServiceProcess {
  readonly name: string
  readonly port: number
  readonly pid: number
  /** Resolves once the process has exited and its output is written. */
  readonly exited: Promise<Exit>
  /** Resolves when it logs its "listening on" line (an Info line: not with LOG_LEVEL Warn or above). */
  readonly listening: Promise<void>
  /** Undefined while the process runs. */
  readonly exit: () => Exit | undefined
  /** Its last lines of output, formatted. */
  readonly tail: () => ReadonlyArray<string>
  /** SIGTERM, then SIGKILL if it has not exited after `timeoutMs`. */
  readonly stop: (timeoutMs: number) => Promise<Exit>
}

const tailLines = 30
const tailBytes = 16_384

/** What makes a stdout chunk worth parsing for the console (JSON logs: see libs/metrics). */
const listeningMarker = Buffer.from('"message":"listening on')
const markers = ['"level":"warn', '"level":"error', '"level":"fatal']
  .map((marker) => Buffer.from(marker))
  .concat(listeningMarker)

const command = (runtime: Runtime, entry: string): [string, Array<string>] =>
  runtime === "deno"
    ? [join(root, "node_modules", ".bin", "deno"), ["run", "-A", entry]]
    : [process.execPath, [entry]]

/**
 * What a service runs: on Node its production bundle (see `bundleServices`), on Deno its sources.
 */
export const entryOf = (runtime: Runtime, name: string) =>
  runtime === "deno" ? join("apps", name, "src", "main.ts") : join(buildDir, name, "main.js")

/**
 * On Node every service runs its production bundle (tools/build-app.ts), as the images do: a
 * service loaded from its sources (type stripping, hundreds of modules) idles at about 80 MB more
 * memory. Built at each start of the stack and each rolling restart, so an edit takes effect.
 */
export const bundleServices = async (runtime: Runtime, names: ReadonlyArray<string>) => {
  if (runtime === "node")
    await buildApps(names.map((name) => ({ app: join(root, "apps", name), outfile: entryOf(runtime, name) })))
}

export const startService = (options: {
  readonly name: string
  readonly port: number
  readonly runtime: Runtime
  readonly env: NodeJS.ProcessEnv
  readonly verbose: boolean
}): ServiceProcess => {
  const { name, verbose } = options
  const [file, args] = command(options.runtime, entryOf(options.runtime, name))
  const child = spawn(file, args, {
    cwd: root,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true // own process group: see the header
  })
  // Appended: a restarted service keeps the lines of the one before (start.ts empties it once).
  const log = createWriteStream(join(logDir, `${name}.log`), { flags: "a" })
  const listening = Promise.withResolvers<void>()
  let listened = false
  // The last bytes of output, for the tail shown when the service fails.
  const recent: Array<Buffer> = []
  let recentSize = 0
  const show = (text: string, stderr: boolean) => {
    const line = parseLine(text, stderr)
    if (verbose || isImportant(line)) print(name, formatLine(line))
  }
  const follow = (stream: Readable, stderr: boolean) =>
    new Promise<void>((resolve) => {
      let partial: Buffer = Buffer.alloc(0) // the line the last chunk ended in the middle of
      stream.on("data", (chunk: Buffer) => {
        log.write(chunk)
        recent.push(chunk)
        recentSize += chunk.length
        while (recentSize - recent[0]!.length > tailBytes) recentSize -= recent.shift()!.length
        const bytes = partial.length > 0 ? Buffer.concat([partial, chunk]) : chunk
        const end = bytes.lastIndexOf(10) + 1 // after the last newline
        partial = bytes.subarray(end)
        const complete = bytes.subarray(0, end)
        if (!listened && !stderr && complete.includes(listeningMarker)) {
          listened = true
          listening.resolve()
        }
        if (verbose || stderr || markers.some((marker) => complete.includes(marker)))
          for (const text of complete.toString("utf8").split("\n").slice(0, -1)) show(text, stderr)
      })
      stream.on("close", () => {
        if (partial.length > 0) show(partial.toString("utf8"), stderr)
        resolve()
      })
    })
  const output = Promise.all([follow(child.stdout, false), follow(child.stderr, true)])
  const extra: Array<string> = []
  const tail = () =>
    [
      ...Buffer.concat(recent)
        .toString("utf8")
        .split("\n")
        .filter((text) => text !== "")
        .slice(-tailLines)
        .map((text) => formatLine(parseLine(text, false))),
      ...extra
    ].slice(-tailLines)

  let exit: Exit | undefined
  const exited = new Promise<Exit>((resolve) => {
    child.on("error", (error) => {
      // Could not spawn (e.g. no deno binary): reported like an exit.
      extra.push(String(error))
      exit = { code: 127, signal: null }
      log.end(() => resolve(exit!))
    })
    child.on("exit", (code, signal) => {
      void output.then(() => {
        exit = { code, signal }
        log.end(() => resolve(exit!))
      })
    })
  })

  return {
    name,
    port: options.port,
    pid: child.pid ?? -1,
    exited,
    listening: listening.promise,
    exit: () => exit,
    tail,
    stop: async (timeoutMs) => {
      if (exit !== undefined) return exit
      child.kill("SIGTERM")
      const result = await Promise.race([exited, sleep(timeoutMs, undefined)])
      if (result !== undefined) return result
      child.kill("SIGKILL")
      return exited
    }
  }
}

/** The status of `GET http://<host>:<port><path>`, on a connection of its own (closed after). */
export const httpStatus = (host: string, port: number, path: string, timeoutMs = 2000) =>
  new Promise<number>((resolve, reject) => {
    const req = request({ host, port, path, agent: false, timeout: timeoutMs }, (response) => {
      response.resume()
      response.on("end", () => resolve(response.statusCode ?? 0))
    })
    req.on("timeout", () => req.destroy(new Error("timed out")))
    req.on("error", reject)
    req.end()
  })

/**
 * Polls `/health/ready` until it answers 200. Throws if it does not within `timeoutMs`; returns
 * early, without throwing, once the process has exited or `cancelled()` is true (the caller
 * reports those).
 *
 * A service opens its port a moment before it answers on it (the HTTP server listens while the
 * layers above it, migrations among them, are still being built, and a request arriving then is
 * never answered), so a probe that gets no answer is abandoned quickly and retried; the time
 * allowed doubles at each such probe (250 ms up to 5 s), for a slow readiness check.
 */
export const waitUntilReady = async (
  service: ServiceProcess,
  host: string,
  timeoutMs: number,
  cancelled: () => boolean
): Promise<void> => {
  const deadline = performance.now() + timeoutMs
  let probeTimeoutMs = 250
  while (service.exit() === undefined && !cancelled()) {
    let problem = ""
    const status = await httpStatus(host, service.port, "/health/ready", probeTimeoutMs).catch(
      (error: NodeJS.ErrnoException) => {
        if (error.message === "timed out") probeTimeoutMs = Math.min(probeTimeoutMs * 2, 5000)
        problem = error.code === "ECONNREFUSED" ? "its port is not open" : `no answer: ${error.message}`
        return 0
      }
    )
    if (status === 200) return
    if (performance.now() > deadline)
      throw new Error(
        `${service.name} is not ready after ${timeoutMs / 1000} s (${problem || `/health/ready answers ${status}`})`
      )
    await Promise.race([sleep(100), service.exited])
  }
}
