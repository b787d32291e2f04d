/**
 * A service as a child process of the stack: its output goes to `.data/logs/<service>.log`
 * (every line) and to the console (the important lines, or all with `verbose`); it runs in its
 * own process group, so a Ctrl-C in the terminal reaches only the stack, which stops it.
 */
import { spawn } from "node:child_process"
import { createWriteStream } from "node:fs"
import { request } from "node:http"
import { join } from "node:path"
import { createInterface } from "node:readline"
import type { Readable } from "node:stream"
import { setTimeout as sleep } from "node:timers/promises"
import type { Runtime } from "./config.ts"
import { logDir, root } from "./config.ts"
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
  /** Undefined while the process runs. */
  readonly exit: () => Exit | undefined
  /** Its last lines of output, formatted. */
  readonly tail: () => ReadonlyArray<string>
  /** SIGTERM, then SIGKILL if it has not exited after `timeoutMs`. */
  readonly stop: (timeoutMs: number) => Promise<Exit>
}

const tailSize = 30

const command = (runtime: Runtime, entry: string): [string, Array<string>] =>
  runtime === "deno"
    ? [join(root, "node_modules", ".bin", "deno"), ["run", "-A", entry]]
    : [process.execPath, [entry]]

export const startService = (options: {
  readonly name: string
  readonly port: number
  readonly runtime: Runtime
  readonly env: NodeJS.ProcessEnv
  readonly verbose: boolean
}): ServiceProcess => {
  const { name, verbose } = options
  const [file, args] = command(options.runtime, join("apps", name, "src", "main.ts"))
  const child = spawn(file, args, {
    cwd: root,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true // own process group: see the header
  })
  const log = createWriteStream(join(logDir, `${name}.log`))
  const lines: Array<string> = []
  const follow = (stream: Readable, stderr: boolean) =>
    new Promise<void>((resolve) => {
      const reader = createInterface({ input: stream, crlfDelay: Infinity })
      reader.on("line", (text) => {
        log.write(text + "\n")
        const line = parseLine(text, stderr)
        const formatted = formatLine(line)
        lines.push(formatted)
        if (lines.length > tailSize) lines.shift()
        if (verbose || isImportant(line)) print(name, formatted)
      })
      reader.on("close", resolve)
    })
  const output = Promise.all([follow(child.stdout, false), follow(child.stderr, true)])

  let exit: Exit | undefined
  const exited = new Promise<Exit>((resolve) => {
    child.on("error", (error) => {
      // Could not spawn (e.g. no deno binary): reported like an exit.
      lines.push(String(error))
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
    exit: () => exit,
    tail: () => lines,
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
