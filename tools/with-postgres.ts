/**
 * Runs a command with `DATABASE_URL` naming a PostgreSQL server:
 *
 *   node tools/with-postgres.ts <command> [args...]     e.g. `nx run-many -t test`
 *
 * If `DATABASE_URL` is set, the command just runs with it. Otherwise one embedded PostgreSQL is
 * started for the whole command (so every project's vitest `globalSetup` reuses it instead of
 * starting its own), and stopped when the command ends or on SIGINT/SIGTERM. Exits with the
 * command's exit code (128 + signal number if it was killed by a signal).
 *
 * The command is spawned without a shell and looked up on PATH, with this repository's
 * `node_modules/.bin` in front (npm scripts already put it there; direct calls need it). On
 * Windows, npm's `.cmd` shims cannot be spawned without a shell: call this from WSL or a POSIX CI.
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { constants } from "node:os"
import { delimiter, join } from "node:path"
import { fileURLToPath } from "node:url"
import { startEmbeddedPostgres } from "../libs/testing/src/Postgres.ts"
import type { EmbeddedPostgres } from "../libs/testing/src/Postgres.ts"

const [command, ...args] = process.argv.slice(2)
if (command === undefined) {
  console.error("usage: node tools/with-postgres.ts <command> [args...]")
  process.exit(2)
}

// Until the command runs, a signal only needs remembering; afterwards it is passed on, and we
// stop the server once the command has exited.
let child: ChildProcess | undefined
let signalled: NodeJS.Signals | undefined
const onSignal = (signal: NodeJS.Signals) => {
  signalled ??= signal
  child?.kill(signal)
}
process.on("SIGINT", onSignal)
process.on("SIGTERM", onSignal)
const signalCode = (signal: NodeJS.Signals) => 128 + constants.signals[signal]

let server: EmbeddedPostgres | undefined
const env = { ...process.env }
if (!env["DATABASE_URL"]) {
  const started = performance.now()
  server = await startEmbeddedPostgres()
  env["DATABASE_URL"] = server.url
  console.error(
    `with-postgres: embedded PostgreSQL at ${server.url} (${Math.round(performance.now() - started)} ms)`
  )
}

let exitCode: number
if (signalled !== undefined) {
  exitCode = signalCode(signalled)
} else {
  const bin = join(fileURLToPath(new URL("..", import.meta.url)), "node_modules", ".bin")
  env["PATH"] = [bin, env["PATH"]].filter(Boolean).join(delimiter)
  exitCode = await new Promise<number>((resolve) => {
    child = spawn(command, args, { stdio: "inherit", shell: false, env })
    child.on("error", (error) => {
      console.error(`with-postgres: cannot run ${command}: ${error.message}`)
      resolve(127)
    })
    child.on("exit", (code, signal) => resolve(code ?? signalCode(signal ?? "SIGTERM")))
  })
}

await server?.stop()
process.exit(exitCode)
