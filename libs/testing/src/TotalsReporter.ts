/**
 * A Vitest reporter that writes one run's counts to `$TEST_RESULTS_DIR/<project>.<runtime>.json`
 * for `tools/test-totals.ts`, which sums them into the last line of `npm test`. Without
 * `TEST_RESULTS_DIR` it does nothing, so a plain `vitest run` writes no file.
 *
 * "failed" counts failed tests, plus each test file that failed without a failed test (it did
 * not load) and each unhandled error, as Vitest fails the run for those too: a red run never
 * totals 0 failed. "skipped" counts skipped and todo tests.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import type { Reporter, TestModule, Vitest } from "vitest/node"

const workspaceRoot = fileURLToPath(new URL("../../..", import.meta.url))

export interface RunTotals {
  readonly project: string
  readonly runtime: "node" | "deno"
  readonly passed: number
  readonly failed: number
  readonly skipped: number
}

export default class TotalsReporter implements Reporter {
  private root = process.cwd()

  onInit(vitest: Vitest) {
    this.root = vitest.config.root
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>) {
    const dir = process.env["TEST_RESULTS_DIR"]
    if (!dir) return
    let passed = 0
    let failed = unhandledErrors.length
    let skipped = 0
    for (const module of testModules) {
      let failedTests = 0
      for (const test of module.children.allTests()) {
        const state = test.result().state
        if (state === "passed") passed++
        else if (state === "failed") failedTests++
        else skipped++
      }
      failed += failedTests === 0 && module.state() === "failed" ? 1 : failedTests
    }
    const project = relative(workspaceRoot, this.root) || "."
    const runtime = "Deno" in globalThis ? "deno" : "node"
    const totals: RunTotals = { project, runtime, passed, failed, skipped }
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, `${project.replaceAll("/", "-")}.${runtime}.json`), JSON.stringify(totals))
  }
}
