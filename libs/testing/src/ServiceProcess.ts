/**
 * A service as a real child process, the way it runs in production: `node src/main.ts` under
 * Node, `deno run -A src/main.ts` under Deno (whichever runtime runs the test). Used to prove
 * that each app boots, answers readiness and shuts down cleanly on SIGTERM.
 */
import { Effect, Schedule } from "effect"
import { spawn } from "node:child_process"
import { createServer } from "node:net"

/** Whether a TCP port of 127.0.0.1 can be listened on now. */
const bindable = (port: number) =>
  Effect.callback<boolean>((resume) => {
    const server = createServer()
    server.once("error", () => resume(Effect.succeed(false)))
    server.listen(port, "127.0.0.1", () => server.close(() => resume(Effect.succeed(true))))
  })

/**
 * A TCP port that was free a moment ago on 127.0.0.1, taken below the ephemeral ranges the
 * kernels hand to outgoing connections (Linux 32768-60999, macOS 49152-65535). A port from
 * `listen(0)` comes from that range, and between the check and the service's own bind any
 * client's connection may take it (seen on a loaded machine: EADDRINUSE at a test's start).
 */
export const freePort: Effect.Effect<number> = Effect.suspend(function pick(): Effect.Effect<number> {
  const port = 20_000 + Math.floor(Math.random() * 12_000)
  return Effect.flatMap(bindable(port), (free) => (free ? Effect.succeed(port) : pick()))
})

const isDeno = "Deno" in globalThis

/** The command that runs a TypeScript entry point with the current runtime. */
export const runtimeCommand = (entry: string): [string, Array<string>] =>
  isDeno ? [process.execPath, ["run", "-A", entry]] : [process.execPath, [entry]]

export interface ServiceProcess {
  readonly url: string
  /** The admin server (`/metrics`, profiles). */
  readonly adminUrl: string
  /** Everything the process wrote to stdout and stderr so far. */
  readonly output: () => string
  /** Sends SIGTERM and waits for the process to exit; the exit code. */
  readonly terminate: Effect.Effect<number | null>
  /** Waits for the process to exit on its own; the exit code. */
  readonly exited: Effect.Effect<number | null>
}

interface Child {
  readonly kill: (signal: "SIGTERM" | "SIGKILL") => void
  /** The exit code, or null when a signal ended the process. */
  readonly status: Promise<number | null>
}

/**
 * Spawns a process. Under Deno this uses `Deno.Command`: Deno's `node:child_process` reports
 * a process it sent SIGTERM to as killed by the signal even when it exited 0 by itself.
 */
const spawnChild = (
  command: string,
  args: Array<string>,
  env: Record<string, string>,
  onOutput: (text: string) => void
): Child => {
  const deno = (globalThis as { Deno?: any }).Deno
  if (deno !== undefined) {
    const child = new deno.Command(command, {
      args,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped"
    }).spawn()
    const decoder = new TextDecoder()
    const sink = () => new WritableStream<Uint8Array>({ write: (chunk) => onOutput(decoder.decode(chunk)) })
    void child.stdout.pipeTo(sink())
    void child.stderr.pipeTo(sink())
    let done = false
    const status = (child.status as Promise<{ code: number; signal: string | null }>).then((s) => {
      done = true
      return s.signal === null ? s.code : null
    })
    return { kill: (signal) => !done && child.kill(signal), status }
  }
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
  child.stdout.on("data", (chunk) => onOutput(String(chunk)))
  child.stderr.on("data", (chunk) => onOutput(String(chunk)))
  // "close" rather than "exit": it comes after the output streams are drained.
  const status = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)))
  return {
    kill: (signal) => child.exitCode === null && child.signalCode === null && child.kill(signal),
    status
  }
}

/**
 * Starts `entry` with `env` added to this process's environment and `PORT` and `ADMIN_PORT` set
 * to free ports.
 * The process is killed when the scope closes if it is still running.
 */
export const startProcess = (entry: string, env: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const port = yield* freePort
    const adminPort = yield* freePort
    const [command, args] = runtimeCommand(entry)
    let output = ""
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawnChild(
          command,
          args,
          { HOST: "127.0.0.1", PORT: String(port), ADMIN_PORT: String(adminPort), ...env },
          (text) => (output += text)
        )
      ),
      (child) => Effect.sync(() => child.kill("SIGKILL"))
    )
    const exited = Effect.promise(() => child.status)
    return {
      url: `http://127.0.0.1:${port}`,
      adminUrl: `http://127.0.0.1:${adminPort}`,
      output: () => output,
      exited,
      terminate: Effect.suspend(() => {
        child.kill("SIGTERM")
        return exited
      })
    } satisfies ServiceProcess
  })

/** Polls `path` until it answers 200; fails with the last error and the process output. */
export const awaitReady = (
  service: ServiceProcess,
  path = "/health/ready",
  timeout: `${number} seconds` = "30 seconds"
) => {
  let last: unknown = "no attempt finished"
  return Effect.tryPromise(async () => {
    const response = await fetch(service.url + path, { signal: AbortSignal.timeout(2_000) })
    await response.body?.cancel()
    if (response.status !== 200) throw new Error(`status ${response.status}`)
  }).pipe(
    Effect.tapError((error) => Effect.sync(() => (last = error.cause))),
    Effect.retry(Schedule.spaced("50 millis")),
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () =>
        Effect.fail(new Error(`not ready within ${timeout} (${String(last)}); output:\n${service.output()}`))
    })
  )
}
