/**
 * What must hold after every scenario, read from the services' databases (and the API for a
 * sample of orders): nothing acknowledged is lost, nothing is oversold or left reserved, and a
 * payment is captured exactly when its order is confirmed, for its total.
 */
import { PgClient } from "@effect/sql-pg"
import { Duration, Effect, Redacted } from "effect"
import { Reactivity } from "effect/reactivity"
import type { SqlClient } from "effect/sql"
import { setTimeout as sleep } from "node:timers/promises"

/** Runs `f` with a client of the database at `url`, closed after. */
export const withSql = <A>(
  url: string,
  f: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>
): Promise<A> =>
  PgClient.makeClient({
    url: Redacted.make(url),
    connectTimeout: Duration.seconds(5),
    applicationName: "chaos"
  }).pipe(Effect.flatMap(f), Effect.scoped, Effect.provide(Reactivity.layer), Effect.runPromise)

export interface Databases {
  readonly order: string
  readonly inventory: string
  readonly payment: string
}

/** Per SKU: available + reserved + sold. Constant whatever happens. */
export const stockTotals = (db: Databases) =>
  withSql(
    db.inventory,
    (sql) =>
      sql<{ sku: string; total: string }>`
      SELECT p.sku, p.available + COALESCE(SUM(i.quantity) FILTER (WHERE r.state IN ('RESERVED', 'COMMITTED')), 0) AS total
      FROM products p
      LEFT JOIN reservation_items i ON i.sku = p.sku
      LEFT JOIN reservations r ON r.id = i.reservation_id
      GROUP BY p.sku, p.available
    `
  ).then((rows) => new Map(rows.map((row) => [row.sku, Number(row.total)])))

export const deadLetters = (db: Databases) =>
  withSql(db.order, (sql) => sql<{ n: string }>`SELECT count(*) AS n FROM outbox WHERE status = 'dead'`).then(
    (rows) => Number(rows[0]!.n)
  )

const pendingOrders = (db: Databases) =>
  withSql(
    db.order,
    (sql) => sql<{ n: string }>`SELECT count(*) AS n FROM orders WHERE status = 'PENDING'`
  ).then((rows) => Number(rows[0]!.n))

const openAuthorizations = (db: Databases) =>
  withSql(
    db.payment,
    (sql) => sql<{ n: string }>`SELECT count(*) AS n FROM payments WHERE status = 'AUTHORIZED'`
  ).then((rows) => Number(rows[0]!.n))

/** Polls `count` until it is 0 or `timeoutMs` passes; the seconds it took, or undefined. */
const settles = async (count: () => Promise<number>, timeoutMs: number) => {
  const started = performance.now()
  while (performance.now() - started < timeoutMs) {
    if ((await count().catch(() => -1)) === 0) return (performance.now() - started) / 1000
    await sleep(500)
  }
  return undefined
}

export interface Check {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

export interface InvariantInput {
  readonly db: Databases
  /** Order ids answered 201/202. */
  readonly acknowledged: ReadonlyArray<string>
  /** Per SKU, the total before the suite started. */
  readonly initialStock: ReadonlyMap<string, number>
  readonly deadLettersBefore: number
  readonly deadLettersAllowed: boolean
  /** GET /v1/orders/{id} as the customer who placed it: the status, or the HTTP error. */
  readonly readOrder: (id: string, customer: string) => Promise<string>
}

const sample = <A>(items: ReadonlyArray<A>, n: number) =>
  items.length <= n ? items : Array.from({ length: n }, (_, i) => items[Math.floor((i * items.length) / n)]!)

export const checkInvariants = async (
  input: InvariantInput
): Promise<{ checks: Array<Check>; terminalSeconds?: number }> => {
  const { db } = input
  const checks: Array<Check> = []
  const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail })

  const terminalSeconds = await settles(() => pendingOrders(db), 30_000)
  check(
    "terminal",
    terminalSeconds !== undefined,
    terminalSeconds === undefined
      ? `${await pendingOrders(db)} orders still PENDING after 30 s`
      : `all terminal after ${terminalSeconds.toFixed(1)} s`
  )
  // A late authorization is voided by payment's sweeper (AUTHORIZATION_TIMEOUT of the stack).
  const authorizedSeconds = await settles(() => openAuthorizations(db), 30_000)
  check(
    "no open authorization",
    authorizedSeconds !== undefined,
    authorizedSeconds === undefined
      ? `${await openAuthorizations(db)} payments still AUTHORIZED`
      : `none after ${authorizedSeconds.toFixed(1)} s`
  )

  const orders = await withSql(
    db.order,
    (sql) =>
      sql<{
        id: string
        status: string
        total_amount: string | null
        currency: string | null
        customer_id: string
      }>`
      SELECT id, status, total_amount, currency, customer_id FROM orders
    `
  )
  const byId = new Map(orders.map((order) => [order.id, order]))
  const lost = input.acknowledged.filter((id) => !byId.has(id))
  check(
    "acknowledged exist",
    lost.length === 0,
    lost.length === 0
      ? `${input.acknowledged.length} acknowledged, all there`
      : `${lost.length} acknowledged orders missing, e.g. ${lost.slice(0, 3).join(", ")}`
  )

  const stock = await stockTotals(db)
  const drift = [...input.initialStock].filter(([sku, total]) => stock.get(sku) !== total)
  check(
    "stock conserved",
    drift.length === 0,
    drift.length === 0
      ? `${stock.size} SKUs`
      : drift.map(([sku, total]) => `${sku}: ${total} -> ${stock.get(sku)}`).join(", ")
  )

  const reservations = await withSql(
    db.inventory,
    (sql) => sql<{ id: string; state: string }>`SELECT id, state FROM reservations`
  )
  const badReservations = reservations.filter(({ id, state }) => {
    const status = byId.get(id)?.status
    return state === "RESERVED" || (state === "COMMITTED") !== (status === "CONFIRMED")
  })
  const confirmedWithItems = orders.filter((order) => order.status === "CONFIRMED")
  const sold = new Set(reservations.filter((r) => r.state === "COMMITTED").map((r) => r.id))
  const unsold = confirmedWithItems.filter((order) => !sold.has(order.id))
  check(
    "sold iff confirmed",
    badReservations.length === 0 && unsold.length === 0,
    badReservations.length + unsold.length === 0
      ? `${sold.size} sold`
      : `${badReservations.length} reservations held or sold for an unconfirmed order, ${unsold.length} confirmed orders without a sale`
  )

  const payments = await withSql(
    db.payment,
    (sql) =>
      sql<{
        id: string
        status: string
        amount: string
        currency: string
      }>`SELECT id, status, amount, currency FROM payments`
  )
  const paymentOf = new Map(payments.map((payment) => [payment.id, payment]))
  const problems: Array<string> = []
  for (const payment of payments) {
    const order = byId.get(payment.id)
    if (order === undefined) problems.push(`payment ${payment.id} without an order`)
    else if ((payment.status === "CAPTURED") !== (order.status === "CONFIRMED"))
      problems.push(`payment ${payment.id} ${payment.status}, order ${order.status}`)
    else if (
      payment.status === "CAPTURED" &&
      (Number(payment.amount) !== Number(order.total_amount) || payment.currency !== order.currency)
    )
      problems.push(
        `payment ${payment.id} ${payment.amount} ${payment.currency}, order total ${order.total_amount} ${order.currency}`
      )
  }
  for (const order of orders)
    if (order.status === "CONFIRMED" && Number(order.total_amount) > 0 && !paymentOf.has(order.id))
      problems.push(`order ${order.id} CONFIRMED without a payment`)
  check(
    "captured iff confirmed",
    problems.length === 0,
    problems.length === 0
      ? `${payments.filter((p) => p.status === "CAPTURED").length} captured`
      : `${problems.length}: ${problems.slice(0, 3).join("; ")}`
  )

  const dead = (await deadLetters(db)) - input.deadLettersBefore
  check(
    "dead letters",
    input.deadLettersAllowed || dead === 0,
    `${dead} new${input.deadLettersAllowed ? " (allowed here)" : ""}`
  )

  // The API is read first, the database after: a saga still moving cannot make them disagree.
  const mismatches: Array<string> = []
  for (const id of sample(
    input.acknowledged.filter((id) => byId.has(id)),
    20
  )) {
    const status = await input.readOrder(id, byId.get(id)!.customer_id)
    const rows = await withSql(
      db.order,
      (sql) => sql<{ status: string }>`SELECT status FROM orders WHERE id = ${id}`
    )
    if (status !== rows[0]?.status) mismatches.push(`${id}: API ${status}, database ${rows[0]?.status}`)
  }
  check(
    "API agrees",
    mismatches.length === 0,
    mismatches.length === 0 ? "20 orders read back" : mismatches.slice(0, 3).join("; ")
  )

  return { checks, ...(terminalSeconds === undefined ? {} : { terminalSeconds }) }
}
