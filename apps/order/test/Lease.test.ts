/**
 * The lease-based relay under load, as deployed (real processes, real PostgreSQL): the order
 * process SIGKILLed with hundreds of deliveries in flight loses nothing, and of two replicas
 * under load, one frozen (SIGSTOP) past its leases, every command still takes effect once: the
 * other claims the frozen one's rows again, and the frozen one's late outcomes are discarded. Each test ends with the books of the three services agreeing: every order
 * terminal, stock moved once per confirmed unit, one captured payment per confirmed order and
 * nothing held for the others.
 */
import { assert, describe, layer } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { Context, Effect, Exit, Fiber, Layer, Schedule } from "effect"
import type { Stack } from "./support.ts"
import { eventually, place, seedProducts, startStack, unique } from "./support.ts"

class Stacks extends Context.Service<Stacks, { readonly slow: Stack; readonly racing: Stack }>()(
  "test/LeaseStacks"
) {}

const StacksLive = Layer.effect(
  Stacks,
  Effect.gen(function* () {
    const [slow, racing] = yield* Effect.all(
      [
        // Each authorization takes over a second: hundreds of orders wait on it at once.
        startStack({
          payment: { PROCESSOR_LATENCY: "1500 millis", PROCESSOR_JITTER: "100 millis" },
          order: {
            ORDER_RESULT_WAIT: "50 millis",
            OUTBOX_LEASE: "8 seconds",
            PAYMENT_TIMEOUT: "4 seconds",
            OUTBOX_MAX_ATTEMPTS: "50"
          }
        }),
        // Two replicas; one is frozen (SIGSTOP) for longer than the lease while it delivers.
        startStack({
          replicas: 2,
          payment: { PROCESSOR_LATENCY: "200 millis", PROCESSOR_JITTER: "100 millis" },
          order: {
            ORDER_RESULT_WAIT: "50 millis",
            OUTBOX_LEASE: "3 seconds",
            OUTBOX_POLL_INTERVAL: "100 millis",
            OUTBOX_MAX_ATTEMPTS: "50",
            INVENTORY_TIMEOUT: "1500 millis",
            PAYMENT_TIMEOUT: "1500 millis"
          }
        })
      ],
      { concurrency: 1 }
    )
    return { slow, racing }
  })
)

const price = 100

/** The process listening on a URL's port (Linux: `ss`), to freeze it. */
const listenerOf = (url: string): number => {
  const port = new URL(url).port
  const line = execFileSync("ss", ["-ltnpH", `sport = :${port}`], { encoding: "utf8" })
  const pid = /pid=(\d+)/.exec(line)?.[1]
  if (pid === undefined) throw new Error(`no process listens on port ${port}: ${line}`)
  return Number(pid)
}

/**
 * Places `count` one-unit orders of `sku` for `customer`, round robin over the stack's replicas.
 * As a client would, a 5xx (the machine is busy) or a 409 (that key still in flight) is retried
 * with the same key, which never makes a second order; a replica that is gone fails the request.
 */
const placeMany = (stack: Stack, customer: string, sku: string, count: number, concurrency: number) =>
  Effect.all(
    Array.from({ length: count }, (_, i) => {
      const key = unique("key")
      return place(stack.orders[i % stack.orders.length], customer, key, {
        items: [{ sku, quantity: 1 }],
        payment: { token: "tok_visa" }
      }).pipe(
        Effect.flatMap((answer) =>
          answer.status >= 500 || answer.status === 409 ? Effect.fail(answer) : Effect.succeed(answer)
        ),
        Effect.retry({ times: 5, schedule: Schedule.spaced("500 millis") }),
        Effect.exit
      )
    }),
    { concurrency }
  )

/** The ids of a customer's orders, from the database. */
const ordersOf = (stack: Stack, customer: string) =>
  stack.orderDb.sql<{ id: string }>`SELECT id FROM orders WHERE customer_id = ${customer}`.pipe(
    Effect.map((rows) => rows.map((row) => row.id)),
    Effect.orDie
  )

const count = (stack: Stack, ids: ReadonlyArray<string>, status: string) =>
  stack.orderDb.sql<{ n: number }>`
    SELECT count(*)::int AS n FROM orders WHERE status = ${status} AND id = ANY(${ids}::uuid[])
  `.pipe(
    Effect.map((rows) => rows[0].n),
    Effect.orDie
  )

/** Waits until every order ended, then checks that the three services' books agree. */
/** Deliveries in flight: rows under a lease that has not run out. */
const leased = (stack: Stack) =>
  stack.orderDb.sql<{ n: number }>`
    SELECT count(*)::int AS n FROM outbox
    WHERE status = 'pending' AND claimed_until > clock_timestamp()
  `.pipe(
    Effect.map((rows) => rows[0].n),
    Effect.orDie
  )

const booksAgree = (stack: Stack, sku: string, stock: number, ids: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    yield* eventually(
      "every order to end",
      Effect.map(count(stack, ids, "PENDING"), (pending) => (pending === 0 ? true : undefined)),
      "60 seconds"
    ).pipe(
      // Show where the sagas stand if they did not end.
      Effect.tapCause(() =>
        stack.orderDb.sql`
          SELECT command, status, attempts, claimed_until > clock_timestamp() AS leased,
                 left(last_error, 80) AS error, count(*)::int AS n
          FROM outbox WHERE saga_id = ANY(${ids}::uuid[])
          GROUP BY 1, 2, 3, 4, 5 ORDER BY n DESC LIMIT 20
        `.pipe(
          Effect.flatMap((rows) => Effect.logError("outbox of the orders that did not end", rows)),
          Effect.ignore
        )
      )
    )
    const pendingRows = yield* stack.orderDb.sql<{ n: number }>`
      SELECT count(*)::int AS n FROM outbox WHERE status = 'pending' AND saga_id = ANY(${ids}::uuid[])
    `.pipe(Effect.orDie)
    assert.strictEqual(pendingRows[0].n, 0, "no outbox row left pending")
    // Each command of a saga ended once (a saga never enqueues the same step twice here).
    const twice = yield* stack.orderDb.sql<{ saga_id: string; command: string; n: number }>`
      SELECT saga_id, command, count(*)::int AS n FROM outbox
      WHERE saga_id = ANY(${ids}::uuid[]) AND status <> 'superseded'
      GROUP BY saga_id, command HAVING count(*) > 1
    `.pipe(Effect.orDie)
    assert.deepStrictEqual(twice, [])

    const orders = yield* stack.orderDb.sql<{ id: string; status: string }>`
      SELECT id, status FROM orders WHERE id = ANY(${ids}::uuid[])
    `.pipe(Effect.orDie)
    const reservations = new Map(
      (yield* stack.inventory.database.sql<{ id: string; state: string }>`
        SELECT id, state FROM reservations WHERE id = ANY(${ids}::uuid[])
      `.pipe(Effect.orDie)).map((row) => [row.id, row.state])
    )
    const payments = new Map(
      (yield* stack.payment.database.sql<{ id: string; status: string; amount: string }>`
        SELECT id, status, amount::text FROM payments WHERE id = ANY(${ids}::uuid[])
      `.pipe(Effect.orDie)).map((row) => [row.id, row])
    )
    let confirmed = 0
    for (const order of orders) {
      if (order.status === "CONFIRMED") {
        confirmed++
        assert.strictEqual(reservations.get(order.id), "COMMITTED", `order ${order.id}`)
        assert.strictEqual(payments.get(order.id)?.status, "CAPTURED", `order ${order.id}`)
        assert.strictEqual(payments.get(order.id)?.amount, String(price))
      } else {
        assert.include([undefined, "RELEASED", "RETURNED"], reservations.get(order.id), `order ${order.id}`)
        assert.include(
          [undefined, "PENDING", "DECLINED", "VOIDED", "REFUNDED"],
          payments.get(order.id)?.status,
          `order ${order.id}`
        )
      }
    }
    const available = yield* stack.inventory.database.sql<{ available: number }>`
      SELECT available FROM products WHERE sku = ${sku}
    `.pipe(Effect.orDie)
    assert.strictEqual(available[0].available, stock - confirmed, "stock moved once per confirmed unit")
    return { orders: orders.length, confirmed }
  })

describe("lease-based relay", () => {
  layer(StacksLive, { excludeTestServices: true, timeout: "180 seconds" })((it) => {
    it.effect(
      "SIGKILL with hundreds of deliveries in flight: after a restart every order ends, books agree",
      () =>
        Effect.gen(function* () {
          const stack = (yield* Stacks).slow
          const sku = unique("KILL")
          const [orderCount, stock] = [300, 1000]
          yield* seedProducts(stack.inventory, { [sku]: [price, stock] })
          const customer = unique("kill")
          const placing = yield* Effect.forkChild(placeMany(stack, customer, sku, orderCount, 64))

          const inFlight = yield* eventually(
            "hundreds of deliveries in flight",
            Effect.map(leased(stack), (n) => (n >= 150 ? n : undefined)),
            "90 seconds"
          )
          yield* stack.order.kill
          yield* stack.startOrder()
          // Placements sent to the killed process fail; those it accepted are in the database.
          yield* Fiber.join(placing)
          const ids = yield* ordersOf(stack, customer)

          const books = yield* booksAgree(stack, sku, stock, ids)
          assert.isAtLeast(inFlight, 150)
          assert.isAtLeast(books.orders, inFlight)
          assert.isAbove(books.confirmed, 0)
        }),
      180_000
    )

    it.effect(
      "two replicas under load, one frozen past its leases: every command takes effect once",
      () =>
        Effect.gen(function* () {
          const stack = (yield* Stacks).racing
          const frozen = stack.orders[1]
          const sku = unique("RACE")
          // More orders than stock: some are refused, none may oversell.
          const [orderCount, stock] = [200, 180]
          yield* seedProducts(stack.inventory, { [sku]: [price, stock] })
          const customer = unique("race")
          const placing = yield* Effect.forkChild(placeMany(stack, customer, sku, orderCount, 16))

          // Freeze one replica while it has deliveries in flight, for longer than their lease:
          // the other replica claims them again; when it thaws, its outcomes come too late.
          yield* eventually(
            "deliveries in flight",
            Effect.map(leased(stack), (n) => (n >= 10 ? true : undefined))
          )
          const pid = listenerOf(frozen.url)
          process.kill(pid, "SIGSTOP")
          yield* Effect.sleep("5 seconds")
          process.kill(pid, "SIGCONT")

          const placed = yield* Fiber.join(placing)
          assert.isTrue(
            placed.every((answer) => Exit.isSuccess(answer) && [201, 202].includes(answer.value.status))
          )
          const ids = yield* ordersOf(stack, customer)
          const books = yield* booksAgree(stack, sku, stock, ids)
          assert.strictEqual(books.orders, orderCount)
          assert.isAtMost(books.confirmed, stock)
          assert.isAbove(books.confirmed, 0)
          // The frozen replica's leases ran out and its rows were claimed again.
          const reclaimed = yield* stack.orderDb.sql<{ n: number }>`
            SELECT count(*)::int AS n FROM outbox WHERE attempts > 1 AND saga_id = ANY(${ids}::uuid[])
          `.pipe(Effect.orDie)
          assert.isAbove(reclaimed[0].n, 0)
        }),
      180_000
    )
  })
})
