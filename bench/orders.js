// k6 script of `npm run bench -- orders` (see bench/orders.ts): places one-item orders through
// the gateway at a ramping arrival rate (open model), up to RATE orders/s over RAMP, held for HOLD.
import http from "k6/http"
import { Counter } from "k6/metrics"

const base = __ENV.BASE_URL
const tokens = JSON.parse(__ENV.TOKENS)
const rate = Number(__ENV.RATE)
const body = JSON.stringify({ items: [{ sku: __ENV.SKU, quantity: 1 }], payment: { token: "tok_visa" } })

export const options = {
  summaryTrendStats: ["avg", "p(50)", "p(90)", "p(99)", "max"],
  scenarios: {
    orders: {
      executor: "ramping-arrival-rate",
      startRate: Math.max(1, Math.ceil(rate / 4)),
      timeUnit: "1s",
      preAllocatedVUs: Math.min(Math.ceil(rate / 2) + 10, 500),
      maxVUs: 4000,
      stages: [
        { target: rate, duration: __ENV.RAMP },
        { target: rate, duration: __ENV.HOLD }
      ]
    }
  },
  // Always true: only there so that the summary keeps these submetrics.
  thresholds: {
    "http_req_duration{status:201}": ["max>=0"],
    "http_req_duration{status:429}": ["max>=0"],
    "http_req_duration{status:503}": ["max>=0"]
  }
}

const confirmed = new Counter("orders_confirmed")
const overloaded = new Counter("overload_answers")
const retryAfter = new Counter("overload_with_retry_after")
const timedOut = new Counter("timed_out")

export default function () {
  const response = http.post(`${base}/v1/orders`, body, {
    headers: {
      authorization: `Bearer ${tokens[Math.floor(Math.random() * tokens.length)]}`,
      "content-type": "application/json",
      "idempotency-key": `${__VU}-${__ITER}-${Math.random().toString(36).slice(2)}`
    },
    timeout: "10s"
  })
  if (response.status !== 201 && __ITER < 2)
    console.warn(`${response.status} ${String(response.body).slice(0, 200)}`)
  if (response.status === 201 && response.json("status") === "CONFIRMED") confirmed.add(1)
  else if (response.status === 429 || response.status === 503) {
    overloaded.add(1)
    if (response.headers["Retry-After"] !== undefined) retryAfter.add(1)
  } else if (response.status === 0) timedOut.add(1)
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) }
}
