/**
 * The order service end to end: the real order (two replicas on one database), inventory and
 * payment services as processes, each service on its own fresh database, called over HTTP; what
 * they did is checked in their databases (stock, reservation and payment states) and in the
 * requests they served, not only in the answers.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import type { Stack } from "./support.ts"
import type { Running } from "./support.ts"
import {
  cancelOrder,
  eventually,
  getOrder,
  metric,
  place,
  request,
  seedProducts,
  startStack,
  unique
} from "./support.ts"

class TestStack extends Context.Service<TestStack, Stack>()("test/OrderServiceStack") {}

const visa = { token: "tok_visa" }

const stockOf = (stack: Stack, sku: string) =>
  Effect.map(
    stack.inventory.database.sql<{ available: number }>`SELECT available FROM products WHERE sku = ${sku}`,
    (rows) => rows[0]?.available
  ).pipe(Effect.orDie)

const reservationState = (stack: Stack, id: string) =>
  Effect.map(
    stack.inventory.database.sql<{ state: string }>`SELECT state FROM reservations WHERE id = ${id}`,
    (rows) => rows[0]?.state
  ).pipe(Effect.orDie)

const paymentOf = (stack: Stack, id: string) =>
  Effect.map(
    stack.payment.database.sql<{ status: string; amount: string }>`
      SELECT status, amount::text AS amount FROM payments WHERE id = ${id}
    `,
    (rows) => rows[0]
  ).pipe(Effect.orDie)

/** Requests a service answered on a route (any status), from its `/metrics`. */
const served = (service: Running, method: string, route: string) =>
  metric(service, "http_server_request_duration_seconds_count", {
    http_request_method: method,
    http_route: route
  })

const downstreamRequests = (stack: Stack) =>
  Effect.all({
    reserve: served(stack.inventory, "POST", "/reservations"),
    commit: served(stack.inventory, "POST", "/reservations/:reservationId/commit"),
    authorize: served(stack.payment, "POST", "/payments"),
    capture: served(stack.payment, "POST", "/payments/:id/capture")
  })

describe("order service (real inventory and payment processes, two order replicas)", () => {
  layer(
    Layer.effect(
      TestStack,
      startStack({
        replicas: 2,
        order: { IDEMPOTENCY_SWEEP_INTERVAL: "300 millis", OUTBOX_MAX_IN_FLIGHT: "3" }
      })
    ),
    { excludeTestServices: true, timeout: "90 seconds" }
  )("sagas", (it) => {
    it.effect("happy path: 201 CONFIRMED, priced by inventory, stock committed, payment captured", () =>
      Effect.gen(function* () {
        const stack = yield* TestStack
        const [bolt, nut] = [unique("BOLT"), unique("NUT")]
        yield* seedProducts(stack.inventory, { [bolt]: [250, 10], [nut]: [40, 100] })
        const customer = unique("alice")
        const answer = yield* place(stack.order, customer, unique("key"), {
          items: [
            { sku: nut, quantity: 3 },
            { sku: bolt, quantity: 2 }
          ],
          payment: visa
        })
        assert.strictEqual(answer.status, 201, answer.text)
        const order = answer.body
        assert.strictEqual(order.status, "CONFIRMED")
        assert.strictEqual(order.customerId, customer)
        assert.deepStrictEqual(order.total, { amount: 2 * 250 + 3 * 40, currency: "EUR" })
        assert.sameDeepMembers(order.items, [
          { sku: bolt, quantity: 2, unitPrice: { amount: 250, currency: "EUR" } },
          { sku: nut, quantity: 3, unitPrice: { amount: 40, currency: "EUR" } }
        ])
        assert.isNull(answer.headers.get("idempotent-replayed"))

        assert.strictEqual(yield* reservationState(stack, order.id), "COMMITTED")
        assert.strictEqual(yield* stockOf(stack, bolt), 8)
        assert.strictEqual(yield* stockOf(stack, nut), 97)
        assert.deepStrictEqual(yield* paymentOf(stack, order.id), { status: "CAPTURED", amount: "620" })
        assert.deepStrictEqual((yield* getOrder(stack.order, customer, order.id)).body, order)
      })
    )

    it.effect("out of stock: REJECTED out_of_stock, stock untouched, nothing reserved or charged", () =>
      Effect.gen(function* () {
        const stack = yield* TestStack
        const [plenty, scarce] = [unique("PLENTY"), unique("SCARCE")]
        yield* seedProducts(stack.inventory, { [plenty]: [100, 50], [scarce]: [100, 1] })
        const answer = yield* place(stack.order, unique("bob"), unique("key"), {
          items: [
            { sku: plenty, quantity: 5 },
            { sku: scarce, quantity: 2 }
          ],
          payment: visa
        })
        assert.strictEqual(answer.status, 201, answer.text)
        assert.strictEqual(answer.body.status, "REJECTED")
        assert.strictEqual(answer.body.reason, "out_of_stock")
        assert.isUndefined(answer.body.total)
        assert.strictEqual(yield* stockOf(stack, plenty), 50)
        assert.strictEqual(yield* stockOf(stack, scarce), 1)
        assert.isUndefined(yield* reservationState(stack, answer.body.id))
        assert.isUndefined(yield* paymentOf(stack, answer.body.id))
      })
    )

    it.effect("unknown SKU: REJECTED unknown_sku", () =>
      Effect.gen(function* () {
        const stack = yield* TestStack
        const answer = yield* place(stack.order, unique("bob"), unique("key"), {
          items: [{ sku: unique("NOPE"), quantity: 1 }],
          payment: visa
        })
        assert.strictEqual(answer.status, 201, answer.text)
        assert.deepStrictEqual([answer.body.status, answer.body.reason], ["REJECTED", "unknown_sku"])
      })
    )

    it.effect("declined (tok_decline): REJECTED payment_declined with the reason, stock released", () =>
      Effect.gen(function* () {
        const stack = yield* TestStack
        const sku = unique("BOLT")
        yield* seedProducts(stack.inventory, { [sku]: [500, 10] })
        const answer = yield* place(stack.order, unique("carol"), unique("key"), {
          items: [{ sku, quantity: 4 }],
          payment: { token: "tok_decline" }
        })
        assert.strictEqual(answer.status, 201, answer.text)
        const order = answer.body
        assert.deepStrictEqual(
          [order.status, order.reason, order.declineReason],
          ["REJECTED", "payment_declined", "card_declined"]
        )
        // Priced before it was declined.
        assert.deepStrictEqual(order.total, { amount: 2000, currency: "EUR" })
        assert.strictEqual(yield* reservationState(stack, order.id), "RELEASED")
        assert.strictEqual(yield* stockOf(stack, sku), 10)
        assert.strictEqual((yield* paymentOf(stack, order.id))?.status, "DECLINED")
      })
    )

    it.effect(
      "cancel a CONFIRMED order: refunded and restocked, CANCELLED; again answers it; REJECTED is 409",
      () =>
        Effect.gen(function* () {
          const stack = yield* TestStack
          const sku = unique("BOLT")
          yield* seedProducts(stack.inventory, { [sku]: [300, 10] })
          const customer = unique("dave")
          const placed = yield* place(stack.order, customer, unique("key"), {
            items: [{ sku, quantity: 3 }],
            payment: visa
          })
          assert.strictEqual(placed.body.status, "CONFIRMED")
          assert.strictEqual(yield* stockOf(stack, sku), 7)

          const cancelled = yield* cancelOrder(stack.order, customer, placed.body.id)
          assert.strictEqual(cancelled.status, 200, cancelled.text)
          assert.deepStrictEqual(
            [cancelled.body.status, cancelled.body.reason],
            ["CANCELLED", "cancelled_by_customer"]
          )
          assert.strictEqual(yield* stockOf(stack, sku), 10)
          assert.strictEqual(yield* reservationState(stack, placed.body.id), "RETURNED")
          assert.strictEqual((yield* paymentOf(stack, placed.body.id))?.status, "REFUNDED")

          const again = yield* cancelOrder(stack.order, customer, placed.body.id)
          assert.strictEqual(again.status, 200)
          assert.deepStrictEqual(again.body, cancelled.body)
          assert.strictEqual(yield* stockOf(stack, sku), 10)

          const rejected = yield* place(stack.order, customer, unique("key"), {
            items: [{ sku, quantity: 1 }],
            payment: { token: "tok_insufficient_funds" }
          })
          assert.strictEqual(rejected.body.status, "REJECTED")
          const refused = yield* cancelOrder(stack.order, customer, rejected.body.id)
          assert.strictEqual(refused.status, 409)
          assert.strictEqual(refused.body.type, "https://problems.acme.dev/order-not-cancellable")
          assert.strictEqual(refused.body.orderStatus, "REJECTED")

          // Another customer's order is not found, for reading and for cancelling.
          assert.strictEqual((yield* cancelOrder(stack.order, unique("eve"), placed.body.id)).status, 404)
          assert.strictEqual((yield* getOrder(stack.order, unique("eve"), placed.body.id)).status, 404)
        })
    )

    it.effect("list: a customer's orders newest first, with an opaque cursor; a bad cursor is 400", () =>
      Effect.gen(function* () {
        const stack = yield* TestStack
        const customer = unique("frank")
        const ids: Array<string> = []
        for (let i = 0; i < 5; i++) {
          const answer = yield* place(stack.order, customer, unique("key"), {
            items: [{ sku: unique("NOPE"), quantity: 1 }],
            payment: visa
          })
          ids.push(answer.body.id)
        }
        const seen: Array<string> = []
        let cursor: string | null = null
        do {
          const page: any = yield* request(
            "GET",
            `${stack.order.url}/customers/${customer}/orders?limit=2${cursor === null ? "" : `&cursor=${cursor}`}`
          )
          assert.strictEqual(page.status, 200, page.text)
          assert.isAtMost(page.body.items.length, 2)
          seen.push(...page.body.items.map((order: { id: string }) => order.id))
          cursor = page.body.nextCursor
        } while (cursor !== null)
        assert.deepStrictEqual(seen, [...ids].reverse())

        const bad = yield* request("GET", `${stack.order.url}/customers/${customer}/orders?cursor=garbage`)
        assert.strictEqual(bad.status, 400)
        assert.strictEqual(bad.body.type, "https://problems.acme.dev/invalid-cursor")
        const empty = yield* request("GET", `${stack.order.url}/customers/${unique("nobody")}/orders`)
        assert.deepStrictEqual(empty.body, { items: [], nextCursor: null })
      })
    )

    it.effect("events: one per ended saga, in order, read with `after`", () =>
      Effect.gen(function* () {
        const stack = yield* TestStack
        const before = yield* request("GET", `${stack.order.url}/events?limit=500`)
        const after = before.body.last as number
        const sku = unique("BOLT")
        yield* seedProducts(stack.inventory, { [sku]: [100, 5] })
        const customer = unique("gina")
        const confirmed = yield* place(stack.order, customer, unique("key"), {
          items: [{ sku, quantity: 1 }],
          payment: visa
        })
        const rejected = yield* place(stack.order, customer, unique("key"), {
          items: [{ sku, quantity: 99 }],
          payment: visa
        })
        yield* cancelOrder(stack.order, customer, confirmed.body.id)

        const page = yield* request("GET", `${stack.order.url}/events?after=${after}`)
        const mine = page.body.items.filter((event: { customerId: string }) => event.customerId === customer)
        assert.deepStrictEqual(
          mine.map((event: any) => [event.type, event.orderId, event.status, event.reason]),
          [
            ["order.confirmed", confirmed.body.id, "CONFIRMED", undefined],
            ["order.rejected", rejected.body.id, "REJECTED", "out_of_stock"],
            ["order.cancelled", confirmed.body.id, "CANCELLED", "cancelled_by_customer"]
          ]
        )
        const sequences = page.body.items.map((event: { sequence: number }) => event.sequence)
        assert.deepStrictEqual(
          sequences,
          [...sequences].sort((a, b) => a - b)
        )
        assert.strictEqual(page.body.last, sequences[sequences.length - 1])
        const none = yield* request("GET", `${stack.order.url}/events?after=${page.body.last}`)
        assert.deepStrictEqual(none.body, { items: [], last: page.body.last })
      })
    )

    it.effect("idempotency: a sequential repeat replays status and body byte for byte, marked replayed", () =>
      Effect.gen(function* () {
        const stack = yield* TestStack
        const sku = unique("BOLT")
        yield* seedProducts(stack.inventory, { [sku]: [100, 10] })
        const [customer, key] = [unique("hank"), unique("key")]
        const body = { items: [{ sku, quantity: 2 }], payment: visa }
        const first = yield* place(stack.order, customer, key, body)
        assert.strictEqual(first.status, 201)
        const again = yield* place(stack.order, customer, key, body)
        assert.strictEqual(again.status, first.status)
        assert.strictEqual(again.text, first.text)
        assert.strictEqual(again.headers.get("idempotent-replayed"), "true")
        assert.match(again.headers.get("content-type") ?? "", /^application\/json/)
        // One order, one reservation, stock taken once.
        assert.strictEqual(yield* stockOf(stack, sku), 8)
        const orders = yield* stack.orderDb.sql<{ n: number }>`
            SELECT count(*)::int AS n FROM orders WHERE customer_id = ${customer}
          `.pipe(Effect.orDie)
        assert.strictEqual(orders[0].n, 1)

        // Keys are per customer: another customer's same key is a new order.
        const other = yield* place(stack.order, unique("ivan"), key, body)
        assert.strictEqual(other.status, 201)
        assert.notStrictEqual(other.body.id, first.body.id)
        assert.isNull(other.headers.get("idempotent-replayed"))
      })
    )

    it.effect("idempotency: the same key with another body is 422, and nothing is created", () =>
      Effect.gen(function* () {
        const stack = yield* TestStack
        const sku = unique("BOLT")
        yield* seedProducts(stack.inventory, { [sku]: [100, 10] })
        const [customer, key] = [unique("judy"), unique("key")]
        yield* place(stack.order, customer, key, { items: [{ sku, quantity: 1 }], payment: visa })
        for (const body of [
          { items: [{ sku, quantity: 2 }], payment: visa },
          { items: [{ sku, quantity: 1 }], payment: { token: "tok_decline" } }
        ]) {
          const reused = yield* place(stack.order, customer, key, body)
          assert.strictEqual(reused.status, 422, reused.text)
          assert.strictEqual(reused.body.type, "https://problems.acme.dev/idempotency-key-reused")
        }
        assert.strictEqual(yield* stockOf(stack, sku), 9)
      })
    )

    it.effect("idempotency: 20 concurrent duplicates make one order; the others replay it or get 409", () =>
      Effect.gen(function* () {
        const stack = yield* TestStack
        const sku = unique("BOLT")
        yield* seedProducts(stack.inventory, { [sku]: [100, 100] })
        const [customer, key] = [unique("kate"), unique("key")]
        const body = { items: [{ sku, quantity: 3 }], payment: visa }
        const answers = yield* Effect.all(
          Array.from({ length: 20 }, () => place(stack.order, customer, key, body)),
          { concurrency: "unbounded" }
        )
        const originals = answers.filter(
          (a) => a.status === 201 && a.headers.get("idempotent-replayed") === null
        )
        const replays = answers.filter((a) => a.headers.get("idempotent-replayed") === "true")
        const inFlight = answers.filter((a) => a.status === 409)
        assert.strictEqual(originals.length, 1, answers.map((a) => a.status).join(","))
        assert.strictEqual(originals.length + replays.length + inFlight.length, 20)
        for (const replay of replays) assert.strictEqual(replay.text, originals[0].text)
        for (const conflict of inFlight) {
          assert.strictEqual(conflict.body.type, "https://problems.acme.dev/idempotency-key-in-flight")
        }
        const orders = yield* stack.orderDb.sql<{ id: string }>`
            SELECT id FROM orders WHERE customer_id = ${customer}
          `.pipe(Effect.orDie)
        assert.deepStrictEqual(
          orders.map((o) => o.id),
          [originals[0].body.id]
        )
        assert.strictEqual(yield* stockOf(stack, sku), 97)
        // After the first answered, a retry replays it.
        const later = yield* place(stack.order, customer, key, body)
        assert.strictEqual(later.headers.get("idempotent-replayed"), "true")
        assert.strictEqual(later.text, originals[0].text)
      })
    )

    it.effect(
      "idempotency: keys live IDEMPOTENCY_TTL; an expired key is new again and the sweeper deletes it",
      () =>
        Effect.gen(function* () {
          const stack = yield* TestStack
          const [customer, key] = [unique("leo"), unique("key")]
          const body = { items: [{ sku: unique("NOPE"), quantity: 1 }], payment: visa }
          const first = yield* place(stack.order, customer, key, body)
          assert.strictEqual(first.status, 201)
          const keyRow = stack.orderDb.sql<{ ttl_hours: number }>`
            SELECT extract(epoch FROM expires_at - created_at)::float8 / 3600 AS ttl_hours
            FROM idempotency_keys WHERE customer_id = ${customer}
          `.pipe(Effect.orDie)
          const [row] = yield* keyRow
          assert.closeTo(row.ttl_hours, 24, 0.01)

          // A day later (the clock moved by hand): the same key makes a new order, not a replay.
          const expire = stack.orderDb.sql`
            UPDATE idempotency_keys SET expires_at = clock_timestamp() - interval '1 second'
            WHERE customer_id = ${customer}
          `.pipe(Effect.orDie)
          yield* expire
          const second = yield* place(stack.order, customer, key, body)
          assert.strictEqual(second.status, 201)
          assert.isNull(second.headers.get("idempotent-replayed"))
          assert.notStrictEqual(second.body.id, first.body.id)

          // Expired keys are deleted by the sweeper (every 300 ms here).
          yield* expire
          yield* eventually(
            "the sweeper to delete the expired key",
            Effect.map(keyRow, (rows) => (rows.length === 0 ? true : undefined)),
            "10 seconds"
          )
        })
    )

    it.effect(
      "two replicas under concurrent load: every outbox row takes effect exactly once, none stuck",
      () =>
        Effect.gen(function* () {
          const stack = yield* TestStack
          assert.strictEqual(stack.orders.length, 2)
          const sku = unique("LOAD")
          // 30 orders for 24 units: some must be refused, none may oversell.
          yield* seedProducts(stack.inventory, { [sku]: [250, 24] })
          const customer = unique("load")
          const orderCount = 30
          const requestsBefore = yield* downstreamRequests(stack)
          const placed = yield* Effect.all(
            Array.from({ length: orderCount }, (_, i) =>
              place(stack.orders[i % 2], customer, unique("key"), {
                items: [{ sku, quantity: 1 }],
                payment: visa
              })
            ),
            { concurrency: "unbounded" }
          )
          const ids = placed.map((answer) => answer.body.id as string)
          assert.strictEqual(new Set(ids).size, orderCount)
          yield* eventually(
            "every order to end",
            Effect.map(
              stack.orderDb.sql<{ n: number }>`
                SELECT count(*)::int AS n FROM orders WHERE status = 'PENDING'
              `.pipe(Effect.orDie),
              (rows) => (rows[0].n === 0 ? true : undefined)
            ),
            "30 seconds"
          )
          const statuses = yield* stack.orderDb.sql<{ status: string; reason: string | null; n: number }>`
            SELECT status, reason, count(*)::int AS n FROM orders WHERE customer_id = ${customer}
            GROUP BY status, reason ORDER BY status
          `.pipe(Effect.orDie)
          assert.deepStrictEqual(statuses, [
            { status: "CONFIRMED", reason: null, n: 24 },
            { status: "REJECTED", reason: "out_of_stock", n: 6 }
          ])
          const outbox = yield* stack.orderDb.sql<{ status: string; n: number }>`
            SELECT status, count(*)::int AS n FROM outbox WHERE saga_id = ANY(${ids}::uuid[])
            GROUP BY status
          `.pipe(Effect.orDie)
          assert.deepStrictEqual(
            outbox,
            [{ status: "done", n: 30 + 24 * 3 }],
            "no row pending, dead or superseded"
          )

          // Exactly once, counted where the effects happen (the requests each service served):
          // one reservation per order; one authorization, commit and capture per confirmed order.
          const requestsAfter = yield* downstreamRequests(stack)
          assert.deepStrictEqual(
            {
              reserve: requestsAfter.reserve - requestsBefore.reserve,
              commit: requestsAfter.commit - requestsBefore.commit,
              authorize: requestsAfter.authorize - requestsBefore.authorize,
              capture: requestsAfter.capture - requestsBefore.capture
            },
            { reserve: 30, commit: 24, authorize: 24, capture: 24 }
          )
          const reservations = yield* stack.inventory.database.sql<{ state: string; n: number }>`
            SELECT state, count(*)::int AS n FROM reservations WHERE id = ANY(${ids}::uuid[]) GROUP BY state
          `.pipe(Effect.orDie)
          assert.deepStrictEqual(reservations, [{ state: "COMMITTED", n: 24 }])
          const payments = yield* stack.payment.database.sql<{ status: string; n: number }>`
            SELECT status, count(*)::int AS n FROM payments WHERE id = ANY(${ids}::uuid[]) GROUP BY status
          `.pipe(Effect.orDie)
          assert.deepStrictEqual(payments, [{ status: "CAPTURED", n: 24 }])
          assert.strictEqual(yield* stockOf(stack, sku), 0)
          // Both replicas' relays did part of the work.
          for (const replica of stack.orders) {
            assert.isAbove(yield* metric(replica, "resilience_call_count", { downstream: "inventory" }), 0)
          }
        })
    )
  })
})
