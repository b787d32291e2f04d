// The traffic mix of a shop, as k6 functions over the public API (/v1). Every request is
// tagged with its type (browse, order, read), so each type has its own latency SLO.
import http from "k6/http"
import { check } from "k6"
import { randomIntBetween, randomItem, uuidv4 } from "./util.js"

const base = __ENV.BASE_URL || "http://127.0.0.1:8080"
const tokens = JSON.parse(__ENV.TOKENS || "[]")
if (tokens.length === 0) throw new Error("TOKENS is empty: run through loadtests/run.ts, which mints them")

// Products of the demo catalog; SKUs with plenty of stock for most orders and a scarce one so a
// share of orders are rejected out of stock.
export const skus = [
  "BOLT-M8",
  "NUT-M8",
  "WASHER-M8",
  "SCREW-4X40",
  "ANCHOR-8",
  "DRILL-HSS-8",
  "TAPE-DUCT-50"
]
export const scarceSku = "LEVEL-60"

const params = (token, type, extra = {}) => ({
  headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...extra },
  tags: { type }
})

const tokenOf = () => tokens[(__VU - 1) % tokens.length]

/** Browse the catalog: a page of products, then one product. */
export function browse() {
  const token = tokenOf()
  const page = http.get(`${base}/v1/products?limit=20`, params(token, "browse"))
  check(page, { "products listed": (r) => r.status === 200 && r.json("items").length > 0 })
  const product = http.get(`${base}/v1/products/${randomItem(skus)}`, params(token, "browse"))
  check(product, { "product read": (r) => r.status === 200 })
}

/**
 * Place an order with an idempotency key. Most pay with an approving test card; a share with
 * a declining one, a share asks for more of the scarce product than there is. All answer 201
 * (final) or 202 (still pending): a decline or an out-of-stock is an order outcome, not an error.
 */
export function placeOrder(declineShare = 0.05, outOfStockShare = 0.05) {
  const token = tokenOf()
  const roll = Math.random()
  const paymentToken = roll < declineShare ? "tok_decline" : "tok_visa"
  const items =
    roll > 1 - outOfStockShare
      ? [{ sku: scarceSku, quantity: 1000 }]
      : [{ sku: randomItem(skus), quantity: randomIntBetween(1, 3) }]
  const response = http.post(
    `${base}/v1/orders`,
    JSON.stringify({ items, payment: { token: paymentToken } }),
    params(token, "order", { "idempotency-key": uuidv4() })
  )
  check(response, {
    "order accepted": (r) => r.status === 201 || r.status === 202,
    "order has an outcome": (r) => ["PENDING", "CONFIRMED", "REJECTED"].includes(r.json("status"))
  })
  return response.status === 201 || response.status === 202 ? response.json("id") : undefined
}

/** Read my orders: the list, and one order from it. */
export function readOrders() {
  const token = tokenOf()
  const list = http.get(`${base}/v1/orders?limit=10`, params(token, "read"))
  check(list, { "orders listed": (r) => r.status === 200 })
  const items = list.status === 200 ? list.json("items") : []
  if (items.length > 0) {
    const order = http.get(`${base}/v1/orders/${randomItem(items).id}`, params(token, "read"))
    check(order, { "order read": (r) => r.status === 200 })
  }
}

/** One visit: mostly browsing, then ordering or checking orders. */
export function visit() {
  const roll = Math.random()
  if (roll < 0.5) browse()
  else if (roll < 0.8) placeOrder()
  else readOrders()
}
