/**
 * Runs a test command and closes with one line totalling every Vitest run it made, on Node and
 * Deno, across projects:
 *
 *   node tools/test-totals.ts nx run-many -t test test:deno -- --reporter=default --reporter=@acme/testing/TotalsReporter
 *   ...
 *   812 passed, 0 failed, 3 skipped
 *
 * Each run's `TotalsReporter` (libs/testing) writes its counts to `TEST_RESULTS_DIR`, which this
 * sets to a fresh directory under `.data/test-results`; the line is their sum (`, K skipped` only
 * when there are skips). Exits with the command's exit code, whatever the totals say.
 */
import { spawn } from "node:child_process"
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { RunTotals } from "../libs/testing/src/TotalsReporter.ts"

const [command, ...args] = process.argv.slice(2)
if (command === undefined) {
  console.error("usage: node tools/test-totals.ts <command> [args...]")
  process.exit(2)
}

const dir = join(fileURLToPath(new URL("..", import.meta.url)), ".data", "test-results")
rmSync(dir, { recursive: true, force: true })
mkdirSync(dir, { recursive: true })

const exitCode = await new Promise<number>((resolve) => {
  const child = spawn(command, args, { stdio: "inherit", env: { ...process.env, TEST_RESULTS_DIR: dir } })
  child.on("error", (error) => {
    console.error(`test-totals: cannot run ${command}: ${error.message}`)
    resolve(127)
  })
  child.on("exit", (code, signal) => resolve(code ?? (signal === null ? 1 : 128)))
})

const runs = readdirSync(dir)
  .filter((file) => file.endsWith(".json"))
  .map((file) => JSON.parse(readFileSync(join(dir, file), "utf8")) as RunTotals)
const sum = (key: "passed" | "failed" | "skipped") => runs.reduce((total, run) => total + run[key], 0)
const skipped = sum("skipped")
console.log(`\n${sum("passed")} passed, ${sum("failed")} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`)
process.exit(exitCode)
