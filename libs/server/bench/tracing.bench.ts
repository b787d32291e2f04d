/**
 * Benchmark: requests per second of a trivial endpoint served by the kit, with tracing
 * exported over OTLP (10% and 100% of traces sampled) against no exporter (spans are still made
 * for log correlation, none leaves the process). k6 drives each mode with the same closed load;
 * modes alternate over several rounds in one run and the medians are compared.
 *
 *   node libs/server/bench/tracing.bench.ts [rounds=5] [seconds=8] [vus=32]
 *
 * Needs k6 on PATH (or in $(go env GOPATH)/bin). Log level is Warn in every mode so that the
 * request log does not dominate the figure.
 */
import { spawn, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import { homedir, tmpdir } from "node:os"
import { join } from "node:path"

const [rounds = 5, seconds = 8, vus = 32] = process.argv.slice(2).map(Number)
const fixture = new URL("./fixture.ts", import.meta.url).pathname
const k6 = ["k6", join(homedir(), "go/bin/k6")].find((bin) => spawnSync(bin, ["version"]).status === 0)
if (k6 === undefined) throw new Error("k6 not found: install it with `go install go.k6.io/k6@v1.4.2`")

// A stand-in collector that accepts and discards OTLP exports.
let exported = 0
const sink = createServer((req, res) => {
  req.resume()
  req.on("end", () => {
    exported++
    res.writeHead(200).end()
  })
})
await new Promise<void>((resolve) => sink.listen(4318, "127.0.0.1", resolve))

const modes: Record<string, Record<string, string>> = {
  "no exporter": {},
  "OTLP, 10% sampled": {
    OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
    OTEL_TRACES_SAMPLER_ARG: "0.1"
  },
  "OTLP, 100% sampled": { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", OTEL_TRACES_SAMPLER_ARG: "1" }
}

const dir = mkdtempSync(join(tmpdir(), "bench-"))
const script = join(dir, "ping.js")
writeFileSync(
  script,
  `import http from "k6/http"
export const options = { vus: ${vus}, duration: "${seconds}s", summaryTrendStats: ["med", "p(99)"] }
export default function () { http.get("http://127.0.0.1:8090/ping") }
`
)

const waitReady = async () => {
  for (let i = 0; i < 200; i++) {
    const ok = await fetch("http://127.0.0.1:8090/health/live").then(
      (r) => r.ok,
      () => false
    )
    if (ok) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error("fixture did not start")
}

const runMode = async (env: Record<string, string>) => {
  const server = spawn(process.execPath, [fixture], {
    env: { ...process.env, LOG_LEVEL: "Warn", SHUTDOWN_DRAIN_DELAY: "0 millis", ...env },
    stdio: "inherit"
  })
  await waitReady()
  const summary = join(dir, "summary.json")
  spawnSync(k6, ["run", "--quiet", "--summary-export", summary, script], { stdio: "ignore" })
  server.kill("SIGTERM")
  await new Promise((r) => server.once("exit", r))
  const metrics = JSON.parse(readFileSync(summary, "utf8")).metrics
  return { rps: metrics.http_reqs.rate as number, p99: metrics.http_req_duration["p(99)"] as number }
}

const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const results = new Map<string, Array<{ rps: number; p99: number }>>()
for (let round = 0; round < rounds; round++) {
  for (const [name, env] of Object.entries(modes)) {
    const r = await runMode(env)
    results.set(name, [...(results.get(name) ?? []), r])
    console.error(`round ${round + 1} ${name}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99.toFixed(2)} ms`)
  }
}
sink.close()

const base = median(results.get("no exporter")!.map((r) => r.rps))
console.log(`\n${rounds} rounds x ${seconds}s, ${vus} VUs, medians (node ${process.version})`)
console.log("mode                  req/s     p99 ms   ratio")
for (const [name, rs] of results) {
  const rps = median(rs.map((r) => r.rps))
  console.log(
    `${name.padEnd(20)} ${rps.toFixed(0).padStart(7)} ${median(rs.map((r) => r.p99))
      .toFixed(2)
      .padStart(10)}   ${(rps / base).toFixed(2)}`
  )
}
console.log(`(OTLP exports received by the stand-in collector: ${exported})`)
if (!existsSync(script)) process.exit(1)
