/**
 * What must survive: a client that goes away, a cancel in the middle of a step, and the order
 * service itself killed (SIGKILL, no shutdown) between saga steps. The card processor is slow
 * (600 ms a call), so every saga spends over a second in flight, and the order service answers
 * 202 after `ORDER_RESULT_WAIT` = 400 ms.
 */
import type { Sku } from "@acme/contracts"
import type { CustomerId } from "@acme/contracts/order"
import { OrderAccepted, OrderApi } from "@acme/contracts/order"
import { Readiness } from "@acme/server"
import { assert, describe, layer } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Exit, Fiber, Layer, Logger } from "effect"
import { FetchHttpClient } from "effect/http"
import { HttpApiClient } from "effect/http-api"
import { makeApp } from "../src/App.ts"
import { Orders } from "../src/Orders/Orders.ts"
import { SqlLive } from "../src/Sql.ts"
import type { Stack } from "./support.ts"
import {
  cancelOrder,
  eventually,
  fastOrderEnv,
  place,
  request,
  seedProducts,
  settled,
  startStack,
  unique
} from "./support.ts"

class SlowStack extends Context.Service<SlowStack, Stack>()("test/SlowStack") {}

const visa = { token: "tok_visa" }

const stack = Layer.effect(
  SlowStack,
  startStack({
    payment: { PROCESSOR_LATENCY: "600 millis", PROCESSOR_JITTER: "100 millis" },
    order: { ORDER_RESULT_WAIT: "400 millis" }
  })
)

const stockOf = (stack: Stack, sku: string) =>
  Effect.map(
    stack.inventory.database.sql<{ available: number }>`SELECT available FROM products WHERE sku = ${sku}`,
    (rows) => rows[0].available
  ).pipe(Effect.orDie)

describe("durability", () => {
  layer(stack, { excludeTestServices: true, timeout: "120 seconds" })("slow processor", (it) => {
    it.effect("past the bound: 202 with Location; a repeat replays the 202", () =>
      Effect.gen(function* () {
        const stack = yield* SlowStack
        const sku = unique("BOLT")
        yield* seedProducts(stack.inventory, { [sku]: [100, 10] })
        const [customer, key] = [unique("anna"), unique("key")]
        const body = { items: [{ sku, quantity: 1 }], payment: visa }
        const accepted = yield* place(stack.order, customer, key, body)
        assert.strictEqual(accepted.status, 202, accepted.text)
        assert.strictEqual(accepted.body.status, "PENDING")
        assert.strictEqual(
          accepted.headers.get("location"),
          `/customers/${customer}/orders/${accepted.body.id}`
        )
        const replay = yield* place(stack.order, customer, key, body)
        assert.strictEqual(replay.status, 202)
        assert.strictEqual(replay.text, accepted.text)
        assert.strictEqual(replay.headers.get("idempotent-replayed"), "true")
        assert.strictEqual(replay.headers.get("location"), accepted.headers.get("location"))
        const order = yield* settled(stack.order, customer, accepted.body.id)
        assert.strictEqual(order.status, "CONFIRMED")

        // The client derived from the contract tells the two answers apart (as the gateway does).
        const client = yield* HttpApiClient.make(OrderApi, { baseUrl: stack.order.url })
        const pending = yield* client.orders.place({
          params: { customerId: customer as CustomerId },
          headers: { "idempotency-key": unique("key") },
          payload: { items: [{ sku: sku as Sku, quantity: 1 }], payment: visa }
        })
        assert.instanceOf(pending, OrderAccepted)
        const replayed = yield* client.orders.place({
          params: { customerId: customer as CustomerId },
          headers: { "idempotency-key": key },
          payload: { items: [{ sku: sku as Sku, quantity: 1 }], payment: visa }
        })
        assert.instanceOf(replayed, OrderAccepted)
        yield* settled(stack.order, customer, pending.id)
        const confirmed = yield* client.orders.place({
          params: { customerId: customer as CustomerId },
          headers: { "idempotency-key": key },
          payload: { items: [{ sku: sku as Sku, quantity: 1 }], payment: visa }
        })
        assert.instanceOf(confirmed, OrderAccepted, "a replay answers what was answered first")
      }).pipe(Effect.provide(FetchHttpClient.layer))
    )

    it.effect("a client that disconnects during the wait does not cancel the saga", () =>
      Effect.gen(function* () {
        const stack = yield* SlowStack
        const sku = unique("BOLT")
        yield* seedProducts(stack.inventory, { [sku]: [100, 10] })
        const [customer, key] = [unique("bert"), unique("key")]
        const body = { items: [{ sku, quantity: 2 }], payment: visa }
        const aborted = yield* Effect.exit(
          request("POST", `${stack.order.url}/customers/${customer}/orders`, {
            body,
            headers: { "idempotency-key": key },
            signal: AbortSignal.timeout(150)
          })
        )
        assert.isTrue(Exit.isFailure(aborted), "the request was aborted mid-wait")

        const list = yield* eventually(
          "the order to exist",
          Effect.map(request("GET", `${stack.order.url}/customers/${customer}/orders`), (answer) =>
            answer.body.items.length === 1 ? answer.body.items[0] : undefined
          )
        )
        const order = yield* settled(stack.order, customer, list.id)
        assert.strictEqual(order.status, "CONFIRMED")
        const payment = yield* stack.payment.database.sql<{ status: string }>`
          SELECT status FROM payments WHERE id = ${order.id}
        `.pipe(Effect.orDie)
        assert.strictEqual(payment[0].status, "CAPTURED")
        assert.strictEqual(yield* stockOf(stack, sku), 8)

        // A retry with the key answers that order, never 409 and never a second order: a replay
        // of what the first request answered if the server finished it (the service kit does not
        // interrupt a handler whose client went away, see the README), or, had it been
        // interrupted, a fresh answer (the interrupted request gives its key back).
        const retried = yield* place(stack.order, customer, key, body)
        assert.include([201, 202], retried.status, retried.text)
        assert.strictEqual(retried.body.id, order.id)
        const replayed = yield* place(stack.order, customer, key, body)
        assert.strictEqual(replayed.headers.get("idempotent-replayed"), "true")
        const orders = yield* stack.orderDb.sql<{ n: number }>`
          SELECT count(*)::int AS n FROM orders WHERE customer_id = ${customer}
        `.pipe(Effect.orDie)
        assert.strictEqual(orders[0].n, 1)
      })
    )

    it.effect(
      "interrupting a placement mid-wait cancels nothing and gives the key back (in-process replica)",
      () =>
        Effect.gen(function* () {
          const stack = yield* SlowStack
          const sku = unique("BOLT")
          yield* seedProducts(stack.inventory, { [sku]: [100, 10] })
          // One more replica, in this process, so the request fiber can be interrupted directly
          // (what a disconnecting client does once the kit propagates it).
          const replica = yield* Layer.build(
            makeApp().pipe(
              Layer.provideMerge(SqlLive),
              Layer.provide(Readiness.layer),
              Layer.provide(
                ConfigProvider.layer(
                  ConfigProvider.fromUnknown({
                    ...fastOrderEnv,
                    DATABASE_URL: stack.orderDb.url,
                    INVENTORY_URL: stack.inventory.url,
                    PAYMENT_URL: stack.payment.url,
                    ORDER_RESULT_WAIT: "5 seconds"
                  })
                )
              ),
              Layer.provide(Logger.layer([])),
              Layer.orDie
            )
          )
          const orders = Context.get(replica, Orders)
          const [customer, key] = [unique("dina") as CustomerId, unique("key")]
          const body = { items: [{ sku: sku as never, quantity: 2 }], payment: visa }
          const placing = yield* Effect.forkChild(orders.place(customer, key, body))
          const created = yield* eventually(
            "the order to exist",
            Effect.map(
              stack.orderDb.sql<{ id: string }>`SELECT id FROM orders WHERE customer_id = ${customer}`.pipe(
                Effect.orDie
              ),
              (rows) => rows[0]?.id
            )
          )
          yield* Fiber.interrupt(placing)

          const order = yield* settled(stack.order, customer, created)
          assert.strictEqual(order.status, "CONFIRMED")
          // The key was given back: a retry (on any replica) answers the order at once, not 409.
          const retried = yield* place(stack.order, customer, key, body)
          assert.strictEqual(retried.status, 201, retried.text)
          assert.strictEqual(retried.body.id, created)
          assert.isNull(retried.headers.get("idempotent-replayed"))
        }).pipe(Effect.scoped)
    )

    it.effect(
      "cancelling a PENDING order mid-step compensates what the step did: CANCELLED, nothing kept",
      () =>
        Effect.gen(function* () {
          const stack = yield* SlowStack
          const sku = unique("BOLT")
          yield* seedProducts(stack.inventory, { [sku]: [100, 10] })
          const customer = unique("cleo")
          const accepted = yield* place(stack.order, customer, unique("key"), {
            items: [{ sku, quantity: 3 }],
            payment: visa
          })
          assert.strictEqual(accepted.status, 202)
          // The authorization is at the processor right now.
          const cancelled = yield* cancelOrder(stack.order, customer, accepted.body.id)
          assert.strictEqual(cancelled.status, 200, cancelled.text)
          const order = yield* settled(stack.order, customer, accepted.body.id)
          assert.deepStrictEqual([order.status, order.reason], ["CANCELLED", "cancelled_by_customer"])
          assert.strictEqual(yield* stockOf(stack, sku), 10)
          const reservation = yield* stack.inventory.database.sql<{ state: string }>`
          SELECT state FROM reservations WHERE id = ${order.id}
        `.pipe(Effect.orDie)
          assert.include(["RELEASED", "RETURNED"], reservation[0]?.state)
          const payment = yield* stack.payment.database.sql<{ status: string }>`
          SELECT status FROM payments WHERE id = ${order.id}
        `.pipe(Effect.orDie)
          assert.notInclude(["AUTHORIZED", "CAPTURED"], payment[0]?.status)
          // Cancelling again answers the cancelled order.
          const again = yield* cancelOrder(stack.order, customer, order.id)
          assert.strictEqual(again.body.status, "CANCELLED")
        })
    )

    it.effect(
      "SIGKILL between saga steps: after a restart every order ends, and stock and payments agree",
      () =>
        Effect.gen(function* () {
          const stack = yield* SlowStack
          const sku = unique("BOLT")
          const price = 100
          yield* seedProducts(stack.inventory, { [sku]: [price, 100] })
          const customer = unique("crash")
          const quantities = [1, 2, 3, 1, 2, 3, 1, 2]
          const placed = yield* Effect.all(
            quantities.map((quantity, i) =>
              place(stack.order, customer, unique("key"), {
                items: [{ sku, quantity }],
                // One declined card: its compensation may cross the crash too.
                payment: { token: i === 3 ? "tok_decline" : "tok_visa" }
              })
            ),
            { concurrency: "unbounded" }
          )
          const ids = placed.map((answer) => answer.body.id as string)
          assert.strictEqual(ids.filter((id) => typeof id === "string").length, quantities.length)

          const pendingOrders = stack.orderDb.sql<{ n: number }>`
            SELECT count(*)::int AS n FROM orders WHERE status = 'PENDING' AND id = ANY(${ids}::uuid[])
          `.pipe(
            Effect.map((rows) => rows[0].n),
            Effect.orDie
          )
          const payments = stack.payment.database.sql<{ n: number }>`
            SELECT count(*)::int AS n FROM payments WHERE id = ANY(${ids}::uuid[])
          `.pipe(
            Effect.map((rows) => rows[0].n),
            Effect.orDie
          )

          // Mid-saga: some payments exist, and several orders are still PENDING (steps in flight
          // at inventory or payment, rows locked by the relay, transactions open).
          yield* eventually(
            "sagas in flight",
            Effect.map(Effect.all([payments, pendingOrders]), ([paid, pending]) =>
              paid >= 2 && pending >= 4 ? true : undefined
            )
          )
          const inFlight = yield* pendingOrders
          yield* stack.order.kill
          yield* stack.startOrder()
          assert.isAtLeast(inFlight, 4)

          yield* eventually(
            "every order to end",
            Effect.map(pendingOrders, (pending) => (pending === 0 ? true : undefined)),
            "40 seconds"
          )
          const orders = yield* stack.orderDb.sql<{
            id: string
            status: string
            total_amount: string | null
          }>`
            SELECT id, status, total_amount::text FROM orders WHERE id = ANY(${ids}::uuid[])
          `.pipe(Effect.orDie)
          const pendingRows = yield* stack.orderDb.sql<{ n: number }>`
            SELECT count(*)::int AS n FROM outbox WHERE status = 'pending'
          `.pipe(Effect.orDie)
          assert.strictEqual(pendingRows[0].n, 0, "no outbox row left pending")

          const reservations = new Map(
            (yield* stack.inventory.database.sql<{ id: string; state: string }>`
              SELECT id, state FROM reservations WHERE id = ANY(${ids}::uuid[])
            `.pipe(Effect.orDie)).map((row) => [row.id, row.state])
          )
          const paymentRows = new Map(
            (yield* stack.payment.database.sql<{ id: string; status: string; amount: string }>`
              SELECT id, status, amount::text FROM payments WHERE id = ANY(${ids}::uuid[])
            `.pipe(Effect.orDie)).map((row) => [row.id, row])
          )
          let sold = 0
          for (const row of orders) {
            const quantity = quantities[ids.indexOf(row.id)]
            if (row.status === "CONFIRMED") {
              sold += quantity
              assert.strictEqual(reservations.get(row.id), "COMMITTED", `order ${row.id}`)
              assert.strictEqual(paymentRows.get(row.id)?.status, "CAPTURED", `order ${row.id}`)
              assert.strictEqual(paymentRows.get(row.id)?.amount, String(quantity * price))
              assert.strictEqual(row.total_amount, String(quantity * price))
            } else {
              // Nothing held for an order that did not go through.
              assert.include([undefined, "RELEASED", "RETURNED"], reservations.get(row.id), `order ${row.id}`)
              assert.include(
                [undefined, "PENDING", "DECLINED", "VOIDED", "REFUNDED"],
                paymentRows.get(row.id)?.status,
                `order ${row.id}`
              )
            }
          }
          // The declined card is the only order that did not go through.
          assert.deepStrictEqual(
            orders.filter((row) => row.status !== "CONFIRMED").map((row) => row.id),
            [ids[3]]
          )
          // Stock moved exactly once per confirmed unit: nothing leaked, nothing sold twice.
          assert.strictEqual(yield* stockOf(stack, sku), 100 - sold)
          assert.strictEqual(sold, quantities.reduce((a, b) => a + b, 0) - quantities[3])
          // At most one payment per order (the id is the order's), none left merely authorized.
          assert.isAtMost(paymentRows.size, ids.length)
          assert.notInclude(
            [...paymentRows.values()].map((row) => row.status),
            "AUTHORIZED"
          )
        }),
      120_000
    )
  })
})
