/**
 * What the order service's integration tests share: the real services as child processes on the
 * runtime under test (`node src/main.ts`, or Deno), each on a fresh database of its own, plus
 * direct SQL access to those databases for the assertions, raw HTTP helpers (status, headers and
 * body exactly as sent) and polling with a deadline.
 *
 * The order service runs as a process too, so every test exercises the service exactly as it is
 * deployed: its own pool, its relay workers, its LISTEN connection.
 */
import { InventoryApi } from "@acme/contracts/inventory"
import type { ServiceProcess } from "@acme/testing"
import { awaitReady, freePort, startProcess, TestDatabase } from "@acme/testing"
import { PgClient } from "@effect/sql-pg"
import { Duration, Effect, Exit, Redacted, Scope } from "effect"
import { FetchHttpClient } from "effect/http"
import { HttpApiClient } from "effect/http-api"
import { Reactivity } from "effect/reactivity"
import { fileURLToPath } from "node:url"

const entryOf = (app: "order" | "inventory" | "payment") =>
  fileURLToPath(new URL(`../../${app}/src/main.ts`, import.meta.url))

/** Settings every service gets in these tests: small pools (many processes share one server). */
const common = { SHUTDOWN_DRAIN_DELAY: "0 millis", DB_POOL_MAX: "4", DB_POOL_MIN: "1" }

/** Fast saga settings: short polls and backoff, so failure paths finish in seconds. */
export const fastOrderEnv = {
  DB_POOL_MAX: "8",
  OUTBOX_LEASE: "8 seconds",
  OUTBOX_POLL_INTERVAL: "200 millis",
  OUTBOX_BACKOFF_BASE: "50 millis",
  OUTBOX_BACKOFF_MAX: "400 millis",
  OUTBOX_MAX_ATTEMPTS: "6",
  ORDER_RESULT_POLL: "100 millis",
  INVENTORY_TIMEOUT: "3 seconds",
  PAYMENT_TIMEOUT: "3 seconds",
  CIRCUIT_BREAKER_OPEN_DURATION: "300 millis"
}

/** A database and a small pool on it, for assertions. */
export interface Database {
  readonly url: string
  readonly sql: PgClient.PgClient
}

export const makeDatabase = Effect.gen(function* () {
  const db = yield* TestDatabase.make
  const sql = yield* PgClient.make({ url: db.url, maxConnections: 2, minConnections: 0 }).pipe(
    Effect.provide(Reactivity.layer)
  )
  return { url: Redacted.value(db.url), sql } satisfies Database
})

/** A running service: its process, URL and database; `kill` SIGKILLs it (no shutdown at all). */
export interface Running {
  readonly url: string
  readonly process: ServiceProcess
  readonly database: Database
  readonly kill: Effect.Effect<void>
}

/** Starts an app as a process on `database` and waits until it is ready. */
export const startService = (
  app: "order" | "inventory" | "payment",
  database: Database,
  env: Record<string, string> = {}
) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const started = yield* startProcess(entryOf(app), {
      ...common,
      ...env,
      DATABASE_URL: database.url
    }).pipe(Scope.provide(scope))
    // A `PORT` chosen by the caller wins over the one `startProcess` picked.
    const process: ServiceProcess =
      env.PORT === undefined ? started : { ...started, url: `http://127.0.0.1:${env.PORT}` }
    yield* awaitReady(process, "/health/ready", "30 seconds")
    const kill = Scope.close(scope, Exit.void).pipe(Effect.andThen(process.exited), Effect.asVoid)
    return { url: process.url, process, database, kill } satisfies Running
  })

/** Inventory, payment and order (one or more replicas on one database), wired together. */
export interface Stack {
  readonly inventory: Running
  readonly payment: Running
  readonly orders: ReadonlyArray<Running>
  readonly order: Running
  readonly orderDb: Database
  /** Starts one more order replica on the same database (e.g. after a crash). */
  readonly startOrder: (env?: Record<string, string>) => Effect.Effect<Running, unknown, Scope.Scope>
}

export const startStack = (options: {
  readonly payment?: Record<string, string>
  readonly order?: Record<string, string>
  readonly replicas?: number
  /** An inventory to share with another stack, instead of starting one. */
  readonly inventory?: Running
}) =>
  Effect.gen(function* () {
    const [paymentDb, orderDb] = yield* Effect.all([makeDatabase, makeDatabase])
    // The order service needs only the downstream URLs at start (not the services), so all three
    // boot at once; the ports are chosen before the processes start.
    const [inventoryPort, paymentPort] = yield* Effect.all([freePort, freePort])
    const inventoryUrl = options.inventory?.url ?? `http://127.0.0.1:${inventoryPort}`
    const paymentUrl = `http://127.0.0.1:${paymentPort}`
    const orderEnv = {
      ...fastOrderEnv,
      INVENTORY_URL: inventoryUrl,
      PAYMENT_URL: paymentUrl,
      ...options.order
    }
    const startOrder = (env: Record<string, string> = {}) =>
      startService("order", orderDb, { ...orderEnv, ...env })
    const [inventory, payment, first] = yield* Effect.all(
      [
        options.inventory === undefined
          ? Effect.flatMap(makeDatabase, (db) =>
              startService("inventory", db, { PORT: String(inventoryPort) })
            )
          : Effect.succeed(options.inventory),
        startService("payment", paymentDb, {
          PORT: String(paymentPort),
          PROCESSOR_LATENCY: "5 millis",
          PROCESSOR_JITTER: "5 millis",
          ...options.payment
        }),
        startOrder()
      ],
      { concurrency: "unbounded" }
    )
    const orders: Array<Running> = [first]
    // After the first: it migrated the database, the others find it migrated.
    for (let i = 1; i < (options.replicas ?? 1); i++) orders.push(yield* startOrder())
    return { inventory, payment, orders, order: first, orderDb, startOrder } satisfies Stack
  })

// ---------------------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------------------

let counter = 0

/** A SKU (and customer, key) no other test uses. */
export const unique = (prefix: string) =>
  `${prefix}-${Date.now().toString(36).toUpperCase()}-${(counter++).toString(36).toUpperCase()}`

/** Creates products in inventory through its API: `{ sku: [price, stock] }`. */
export const seedProducts = (inventory: Running, products: Record<string, readonly [number, number]>) =>
  Effect.gen(function* () {
    const client = yield* HttpApiClient.make(InventoryApi, { baseUrl: inventory.url })
    yield* Effect.forEach(
      Object.entries(products),
      ([sku, [price, available]]) =>
        client.products.upsert({
          params: { sku: sku as never },
          payload: { name: `Test ${sku}`, price: { amount: price, currency: "EUR" }, available }
        }),
      { concurrency: 4, discard: true }
    )
  }).pipe(Effect.provide(FetchHttpClient.layer), Effect.orDie)

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

export interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly body: any
}

/** One request with `fetch`: the status, headers and body exactly as answered. */
export const request = (
  method: "GET" | "POST",
  url: string,
  options: {
    readonly body?: unknown
    readonly headers?: Record<string, string>
    readonly signal?: AbortSignal
  } = {}
) =>
  Effect.tryPromise(async (): Promise<Answer> => {
    const response = await fetch(url, {
      method,
      headers: {
        ...(options.body === undefined ? {} : { "content-type": "application/json" }),
        ...options.headers
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      ...(options.signal === undefined ? {} : { signal: options.signal })
    })
    const text = await response.text()
    const json = (response.headers.get("content-type") ?? "").includes("json") && text !== ""
    return {
      status: response.status,
      headers: response.headers,
      text,
      body: json ? JSON.parse(text) : undefined
    }
  }).pipe(Effect.orDie)

export interface PlaceBody {
  readonly items: ReadonlyArray<{ readonly sku: string; readonly quantity: number }>
  readonly payment: { readonly token: string }
}

export const place = (service: Running, customer: string, key: string, body: PlaceBody) =>
  request("POST", `${service.url}/customers/${customer}/orders`, {
    body,
    headers: { "idempotency-key": key }
  })

export const getOrder = (service: Running, customer: string, orderId: string) =>
  request("GET", `${service.url}/customers/${customer}/orders/${orderId}`)

export const cancelOrder = (service: Running, customer: string, orderId: string) =>
  request("POST", `${service.url}/customers/${customer}/orders/${orderId}/cancel`)

/** Polls `check` every 100 ms until it returns a value, failing after `timeout`. */
export const eventually = <A>(
  what: string,
  check: Effect.Effect<A | undefined, unknown>,
  timeout: Duration.Input = "20 seconds"
) =>
  Effect.gen(function* () {
    const deadline = Date.now() + Duration.toMillis(Duration.fromInputUnsafe(timeout))
    while (true) {
      const value = yield* check
      if (value !== undefined) return value
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("100 millis")
    }
  })

/** The order once its status is not PENDING any more (read through the API). */
export const settled = (service: Running, customer: string, orderId: string, timeout?: Duration.Input) =>
  eventually(
    `order ${orderId} to settle`,
    Effect.map(getOrder(service, customer, orderId), (answer) =>
      answer.body?.status !== undefined && answer.body.status !== "PENDING" ? answer.body : undefined
    ),
    timeout
  )

/** The value of a Prometheus sample on a service's `/metrics` (summed over matching series). */
export const metric = (service: Running, name: string, labels: Record<string, string> = {}) =>
  Effect.map(request("GET", `${service.process.adminUrl}/metrics`), (answer) => {
    let total = 0
    for (const line of answer.text.split("\n")) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
      const matches = Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))
      if (matches) total += Number(line.slice(line.lastIndexOf(" ") + 1))
    }
    return total
  })
