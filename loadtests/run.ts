/**
 * One command for a load test: optionally starts the stack, mints tokens, runs a k6 scenario
 * from shop.js, saves an HTML report (k6's web dashboard export) and a JSON summary, stops the
 * stack, and exits with k6's exit code (non-zero when an SLO threshold is breached).
 *
 *   node loadtests/run.ts [smoke|load|stress|spike|soak] [--stack node|deno]
 *                         [--base-url URL] [--rate N] [--duration 60s] [--customers 20]
 *   npm run loadtest -- load --stack node --rate 50
 *
 * Without --stack it targets a running gateway (BASE_URL or --base-url, default
 * http://127.0.0.1:8080; tokens must then match that gateway's JWT_SECRET/ISSUER/AUDIENCE,
 * which are read from the environment as the gateway reads them). Other k6 settings pass
 * through the environment (SLO_ORDER_P99, VUS, ...: see shop.js). Results go to
 * loadtests/results/<scenario>-<time>/.
 */
import { spawn, spawnSync } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { mkdirSync } from "node:fs"
import { homedir } from "node:os"
import { dirname, join } from "node:path"
import { parseArgs } from "node:util"
import { signLocalToken } from "../tools/localToken.ts"

const here = dirname(new URL(import.meta.url).pathname)
const root = join(here, "..")

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    stack: { type: "string" },
    "base-url": { type: "string" },
    rate: { type: "string" },
    duration: { type: "string" },
    customers: { type: "string", default: "20" }
  }
})
const scenario = positionals[0] ?? "smoke"
const baseUrl = values["base-url"] ?? process.env["BASE_URL"] ?? "http://127.0.0.1:8080"

/** k6 from K6_BIN, the PATH, or Go's bin folder (where `go install go.k6.io/k6` puts it). */
const findK6 = () => {
  const candidates = [
    process.env["K6_BIN"],
    "k6",
    join(process.env["GOPATH"] ?? join(homedir(), "go"), "bin/k6")
  ]
  const found = candidates.find((bin) => bin !== undefined && spawnSync(bin, ["version"]).status === 0)
  if (found === undefined) {
    console.error("k6 not found. Install it (https://grafana.com/docs/k6/latest/set-up/install-k6/),")
    console.error("or with Go: go install go.k6.io/k6@v1.4.2 (puts it in $(go env GOPATH)/bin).")
    process.exit(2)
  }
  return found!
}

/** Starts `npm start` and resolves once its banner says the stack is ready. */
const startStack = (runtime: string) =>
  new Promise<ChildProcess>((resolve, reject) => {
    const stack = spawn(process.execPath, [join(root, "tools/stack/start.ts"), "--runtime", runtime], {
      detached: true,
      stdio: ["ignore", "pipe", "inherit"]
    })
    const timer = setTimeout(() => reject(new Error("the stack was not ready within 120 s")), 120_000)
    let seen = ""
    stack.stdout!.on("data", (chunk: Buffer) => {
      process.stdout.write(chunk)
      seen += chunk
      if (seen.includes("Press Ctrl-C to stop.")) {
        clearTimeout(timer)
        resolve(stack)
      }
    })
    stack.once("exit", (code) => reject(new Error(`the stack exited (${code}) before it was ready`)))
  })

/** Stops the stack the way Ctrl-C does and waits for it to exit. */
const stopStack = (stack: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    stack.once("exit", (code) => resolve(code))
    process.kill(-stack.pid!, "SIGINT")
  })

const k6 = findK6()
const stack = values.stack === undefined ? undefined : await startStack(values.stack)
let exitCode = 1
try {
  const tokens = await Promise.all(
    Array.from({ length: Number(values.customers) }, (_, i) =>
      signLocalToken(`loadtest-${i + 1}`, { expiresIn: "12h" })
    )
  )
  const out = join(here, "results", `${scenario}-${new Date().toISOString().replace(/[:.]/g, "-")}`)
  mkdirSync(out, { recursive: true })
  const k6Run = spawnSync(k6, ["run", "--summary-export", join(out, "summary.json"), join(here, "shop.js")], {
    stdio: "inherit",
    env: {
      ...process.env,
      SCENARIO: scenario,
      BASE_URL: baseUrl,
      TOKENS: JSON.stringify(tokens),
      ...(values.rate === undefined ? {} : { RATE: values.rate }),
      ...(values.duration === undefined ? {} : { DURATION: values.duration }),
      K6_WEB_DASHBOARD: "true",
      K6_WEB_DASHBOARD_PORT: "-1",
      // One-second periods, so that a short run (the smoke) still gets a report.
      K6_WEB_DASHBOARD_PERIOD: "1s",
      K6_WEB_DASHBOARD_EXPORT: join(out, "report.html"),
      K6_NO_USAGE_REPORT: "true"
    }
  })
  exitCode = k6Run.status ?? 1
  console.log(
    `\nk6 exited ${exitCode}; report: ${join(out, "report.html")}, summary: ${join(out, "summary.json")}`
  )
} finally {
  if (stack !== undefined) {
    const code = await stopStack(stack)
    if (code !== 0) {
      console.error(`the stack exited ${code} on shutdown`)
      exitCode ||= 1
    }
  }
}
process.exit(exitCode)
