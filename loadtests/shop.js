// k6 load test of the shop through the gateway. SCENARIO picks the shape of the load:
//   smoke  a few iterations per second for a short time: does everything answer?
//   load   an open model at RATE iterations/s (constant arrival rate) for DURATION
//   stress ramps the arrival rate up to 3 x RATE to find where it breaks
//   spike  a sudden jump from RATE/5 to 4 x RATE and back
//   soak   RATE for a long DURATION (default 30m), to find leaks and drift
// Thresholds are the SLOs: a breach makes k6 exit non-zero. Run it with loadtests/run.ts, which
// starts the stack if asked, mints tokens, and saves an HTML report and a JSON summary.
import { visit } from "./lib/workload.js"

const scenario = __ENV.SCENARIO || "smoke"
const rate = Number(__ENV.RATE || 20)
const duration = __ENV.DURATION || (scenario === "soak" ? "30m" : scenario === "smoke" ? "15s" : "60s")
const vus = Number(__ENV.VUS || Math.max(20, rate * 2))

const shapes = {
  smoke: { executor: "constant-arrival-rate", rate: Number(__ENV.RATE || 5), timeUnit: "1s", duration },
  load: { executor: "constant-arrival-rate", rate, timeUnit: "1s", duration },
  stress: {
    executor: "ramping-arrival-rate",
    startRate: Math.max(1, Math.floor(rate / 2)),
    timeUnit: "1s",
    stages: [
      { target: rate, duration: "30s" },
      { target: rate * 2, duration: "30s" },
      { target: rate * 3, duration: "30s" },
      { target: 0, duration: "10s" }
    ]
  },
  spike: {
    executor: "ramping-arrival-rate",
    startRate: Math.max(1, Math.floor(rate / 5)),
    timeUnit: "1s",
    stages: [
      { target: Math.max(1, Math.floor(rate / 5)), duration: "20s" },
      { target: rate * 4, duration: "5s" },
      { target: rate * 4, duration: "20s" },
      { target: Math.max(1, Math.floor(rate / 5)), duration: "5s" },
      { target: Math.max(1, Math.floor(rate / 5)), duration: "20s" }
    ]
  },
  soak: { executor: "constant-arrival-rate", rate, timeUnit: "1s", duration }
}
if (!(scenario in shapes)) throw new Error(`unknown SCENARIO ${scenario}; one of ${Object.keys(shapes)}`)

// Latency SLOs per request type, in ms; overridable for a slower environment.
const slo = {
  browse: { p95: Number(__ENV.SLO_BROWSE_P95 || 100), p99: Number(__ENV.SLO_BROWSE_P99 || 200) },
  order: { p95: Number(__ENV.SLO_ORDER_P95 || 800), p99: Number(__ENV.SLO_ORDER_P99 || 1500) },
  read: { p95: Number(__ENV.SLO_READ_P95 || 100), p99: Number(__ENV.SLO_READ_P99 || 200) }
}

export const options = {
  scenarios: {
    [scenario]: { ...shapes[scenario], preAllocatedVUs: vus, maxVUs: vus * 4 }
  },
  thresholds: {
    http_req_failed: [`rate<${__ENV.SLO_ERROR_RATE || 0.01}`],
    checks: ["rate>0.99"],
    dropped_iterations: [`count<=${__ENV.SLO_DROPPED || 0}`],
    ...Object.fromEntries(
      Object.entries(slo).map(([type, { p95, p99 }]) => [
        `http_req_duration{type:${type}}`,
        [`p(95)<${p95}`, `p(99)<${p99}`]
      ])
    )
  },
  summaryTrendStats: ["avg", "med", "p(95)", "p(99)", "max"]
}

export default visit
