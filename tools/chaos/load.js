// k6 load of the chaos suite (tools/chaos/run.ts starts it once per scenario): an open model of
// RATE iterations/s for DURATION, each placing an order through the gateway (a share with a
// declining card, a share asking for more of a scarce product than there is) and, one time in
// two, reading an order placed earlier. Every request is written to stdout as one line,
//   R <type> <status> <start ms since epoch> <duration ms> <order id or -> <retries>
// (a request that got no HTTP answer, the service being away, is retried with the same
// idempotency key, as a client should), from which run.ts computes the figures of each phase (k6's own summary cannot split a run by
// the time a fault was injected) and the set of acknowledged orders (201/202).
import { sleep } from "k6"
import http from "k6/http"

const base = __ENV.BASE_URL
const tokens = JSON.parse(__ENV.TOKENS)
const rate = Number(__ENV.RATE)
const skus = ["BOLT-M8", "NUT-M8", "WASHER-M8", "SCREW-4X40", "ANCHOR-8", "DRILL-HSS-8", "TAPE-DUCT-50"]

export const options = {
  scenarios: {
    chaos: {
      executor: "constant-arrival-rate",
      rate,
      timeUnit: "1s",
      duration: __ENV.DURATION,
      preAllocatedVUs: Math.max(20, rate * 2),
      maxVUs: Math.max(200, rate * 20)
    }
  },
  summaryTrendStats: ["med", "p(99)"]
}

const uuid = () =>
  "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, (c) => {
    const r = (Math.random() * 16) | 0
    return (c === "x" ? r : (r & 0x3) | 0x8).toString(16)
  })

const placed = [] // ids this VU got acknowledged, to read back
/** The request, sent again (up to 3 times) while it gets no HTTP answer at all. */
const send = (make) => {
  let response = make()
  let retried = 0
  while (response.status === 0 && retried < 3) {
    sleep(0.25 * 2 ** retried)
    retried++
    response = make()
  }
  return { response, retried }
}

export default function () {
  const token = tokens[(__VU - 1) % tokens.length]
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" }
  const roll = Math.random()
  const items =
    roll > 0.97
      ? [{ sku: "LEVEL-60", quantity: 1000 }]
      : [{ sku: skus[Math.floor(Math.random() * skus.length)], quantity: 1 + Math.floor(Math.random() * 3) }]
  const body = JSON.stringify({ items, payment: { token: roll < 0.05 ? "tok_decline" : "tok_visa" } })
  const key = uuid()
  const started = Date.now()
  const { response, retried } = send(() =>
    http.post(`${base}/v1/orders`, body, { headers: { ...headers, "idempotency-key": key }, timeout: "20s" })
  )
  let id
  if (response.status === 201 || response.status === 202) {
    id = response.json("id")
    placed.push(id)
  }
  console.log(`R order ${response.status} ${started} ${Date.now() - started} ${id || "-"} ${retried}`)
  if (Math.random() < 0.5 && placed.length > 0) {
    const read = placed[Math.floor(Math.random() * placed.length)]
    const readStarted = Date.now()
    const result = send(() => http.get(`${base}/v1/orders/${read}`, { headers, timeout: "20s" }))
    console.log(
      `R read ${result.response.status} ${readStarted} ${Date.now() - readStarted} - ${result.retried}`
    )
  }
}
