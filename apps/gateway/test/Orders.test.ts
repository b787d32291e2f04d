/**
 * The orders endpoints against the order contract served in-process (in memory, scoped by
 * customer like the real service): what the gateway adds is the caller's identity, the
 * forwarding of the idempotency key, and the public shape of orders and their errors. The same
 * flow against the real order service is in `Api.test.ts`.
 */
import { assert, describe, layer } from "@effect/vitest"
import type { OrderId, Sku } from "@acme/contracts"
import { Context, Effect, Layer } from "effect"
import { FetchHttpClient } from "effect/http"
import type { FakeOrder, RunningGateway } from "./support.ts"
import {
  apiClient,
  bearer,
  downstreamEnv,
  fetchRaw,
  startFakeInventory,
  startFakeOrder,
  startGateway,
  tokenFor
} from "./support.ts"

class Env extends Context.Service<Env, { readonly gateway: RunningGateway; readonly order: FakeOrder }>()(
  "test/OrdersEnv"
) {
  static readonly layer = Layer.effect(
    Env,
    Effect.gen(function* () {
      const inventory = yield* startFakeInventory
      const order = yield* startFakeOrder
      const gateway = yield* startGateway(downstreamEnv(inventory.url, order.url))
      return { gateway, order }
    })
  ).pipe(Layer.provideMerge(FetchHttpClient.layer))
}

const sku = (value: string) => value as Sku
const body = (token = "tok_visa", quantity = 2) => ({
  items: [{ sku: sku("BOLT-M8"), quantity }],
  payment: { token }
})

layer(Env.layer, { timeout: "30 seconds", excludeTestServices: true })("orders through the gateway", (it) => {
  describe("placing", () => {
    it.effect("a decided order is 201 with the public shape, and the key reaches the order service", () =>
      Effect.gen(function* () {
        const { gateway, order } = yield* Env
        const token = yield* tokenFor("alice")
        const response = yield* fetchRaw(`${gateway.url}/v1/orders`, {
          method: "POST",
          headers: { ...bearer(token), "content-type": "application/json", "idempotency-key": "key-201" },
          body: JSON.stringify(body())
        })
        assert.strictEqual(response.status, 201)
        assert.strictEqual(response.json.status, "CONFIRMED")
        assert.deepStrictEqual(response.json.total, { amount: 2000, currency: "EUR" })
        assert.isUndefined(response.json.customerId, "the internal customer id is not exposed")
        assert.isNull(response.headers.get("location"))
        assert.include(order.keys, "key-201")
      })
    )

    it.effect("a pending order is 202 with Location: /v1/orders/{id}", () =>
      Effect.gen(function* () {
        const { gateway } = yield* Env
        const token = yield* tokenFor("alice")
        const response = yield* fetchRaw(`${gateway.url}/v1/orders`, {
          method: "POST",
          headers: { ...bearer(token), "content-type": "application/json", "idempotency-key": "key-202" },
          body: JSON.stringify(body("tok_pending"))
        })
        assert.strictEqual(response.status, 202)
        assert.strictEqual(response.json.status, "PENDING")
        assert.strictEqual(response.headers.get("location"), `/v1/orders/${response.json.id}`)
        const client = yield* apiClient(gateway, token)
        const fetched = yield* client.orders.get({ params: { id: response.json.id } })
        assert.strictEqual(fetched.status, "PENDING")
      })
    )

    it.effect("the same key and body answer the same order; another body is 422", () =>
      Effect.gen(function* () {
        const { gateway } = yield* Env
        const client = yield* apiClient(gateway, yield* tokenFor("alice"))
        const headers = { "idempotency-key": "key-replay" }
        const first = yield* client.orders.place({ headers, payload: body() })
        const again = yield* client.orders.place({ headers, payload: body() })
        assert.strictEqual(again.id, first.id)
        const reused = yield* client.orders.place({ headers, payload: body("tok_visa", 3) }).pipe(Effect.flip)
        assert.strictEqual(reused._tag, "IdempotencyKeyReused")
      })
    )

    it.effect("the key is per customer: another caller with the same key places its own order", () =>
      Effect.gen(function* () {
        const { gateway } = yield* Env
        const alice = yield* apiClient(gateway, yield* tokenFor("alice"))
        const bob = yield* apiClient(gateway, yield* tokenFor("bob"))
        const headers = { "idempotency-key": "key-shared" }
        const mine = yield* alice.orders.place({ headers, payload: body() })
        const theirs = yield* bob.orders.place({ headers, payload: body() })
        assert.notStrictEqual(mine.id, theirs.id)
      })
    )
  })

  describe("reading and cancelling", () => {
    it.effect("another caller's order is 404 to get and to cancel, and absent from their list", () =>
      Effect.gen(function* () {
        const { gateway } = yield* Env
        const alice = yield* apiClient(gateway, yield* tokenFor("alice"))
        const bob = yield* apiClient(gateway, yield* tokenFor("bob"))
        const placed = yield* alice.orders.place({
          headers: { "idempotency-key": "key-owner" },
          payload: body()
        })
        const got = yield* bob.orders.get({ params: { id: placed.id } }).pipe(Effect.flip)
        assert.strictEqual(got._tag, "OrderNotFound")
        const cancelled = yield* bob.orders.cancel({ params: { id: placed.id } }).pipe(Effect.flip)
        assert.strictEqual(cancelled._tag, "OrderNotFound")
        const bobs = yield* bob.orders.list({ query: {} })
        assert.isFalse(bobs.items.some((order) => order.id === placed.id))
        const alices = yield* alice.orders.list({ query: {} })
        assert.isTrue(alices.items.some((order) => order.id === placed.id))
        assert.strictEqual((yield* alice.orders.get({ params: { id: placed.id } })).status, "CONFIRMED")
      })
    )

    it.effect("cancelling answers the cancelled order; a rejected one is 409 with its status", () =>
      Effect.gen(function* () {
        const { gateway } = yield* Env
        const client = yield* apiClient(gateway, yield* tokenFor("carol"))
        const placed = yield* client.orders.place({ headers: { "idempotency-key": "c-1" }, payload: body() })
        const cancelled = yield* client.orders.cancel({ params: { id: placed.id } })
        assert.strictEqual(cancelled.status, "CANCELLED")
        assert.strictEqual(cancelled.reason, "cancelled_by_customer")
        const rejected = yield* client.orders.place({
          headers: { "idempotency-key": "c-2" },
          payload: body("tok_decline")
        })
        assert.strictEqual(rejected.status, "REJECTED")
        assert.strictEqual(rejected.reason, "payment_declined")
        assert.strictEqual(rejected.declineReason, "card_declined")
        const error = yield* client.orders.cancel({ params: { id: rejected.id } }).pipe(Effect.flip)
        assert.strictEqual(error._tag, "OrderNotCancellable")
        if (error._tag === "OrderNotCancellable") assert.strictEqual(error.orderStatus, "REJECTED")
      })
    )

    it.effect("an unknown order id is 404; a bad cursor is 400; a malformed id is 400 naming it", () =>
      Effect.gen(function* () {
        const { gateway } = yield* Env
        const token = yield* tokenFor("dave")
        const client = yield* apiClient(gateway, token)
        const missing = yield* client.orders
          .get({ params: { id: "00000000-0000-4000-8000-000000000000" as OrderId } })
          .pipe(Effect.flip)
        assert.strictEqual(missing._tag, "OrderNotFound")
        const cursor = yield* client.orders.list({ query: { cursor: "bad" } }).pipe(Effect.flip)
        assert.strictEqual(cursor._tag, "InvalidCursor")
        const malformed = yield* fetchRaw(`${gateway.url}/v1/orders/not-a-uuid`, { headers: bearer(token) })
        assert.strictEqual(malformed.status, 400)
        assert.deepStrictEqual(malformed.json.errors[0].path, ["params", "id"])
      })
    )
  })
})
