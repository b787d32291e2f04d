import { TestDatabase } from "@acme/testing"
import { Readiness } from "@acme/server"
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Fiber, Layer, Metric, Queue, Redacted, Stream } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { SqlClient } from "effect/sql"
import { Database, PoolMetrics } from "../src/index.ts"

/** The pool on a fresh database, configured from the environment, sampled every 20 ms. */
const withPool = <A, E>(
  env: Record<string, string>,
  use: Effect.Effect<A, E, SqlClient.SqlClient | PgClient.PgClient | Readiness>
) =>
  Effect.gen(function* () {
    const db = yield* TestDatabase.make
    const layer = Database.layer({ applicationName: "pool-test", migrations: {} }).pipe(
      Layer.provideMerge(Readiness.layer),
      Layer.provide(
        ConfigProvider.layer(
          ConfigProvider.fromUnknown({
            DATABASE_URL: Redacted.value(db.url),
            DB_POOL_METRICS_INTERVAL: "20 millis",
            ...env
          })
        )
      )
    )
    return yield* Effect.provide(use, layer)
  }).pipe(Effect.scoped)

/** The pool's gauges as last published for the pool `name`. */
const gauges = (name: string) =>
  Effect.all({
    used: Metric.value(PoolMetrics.connectionCount(name, "used")),
    idle: Metric.value(PoolMetrics.connectionCount(name, "idle")),
    pending: Metric.value(PoolMetrics.pendingRequests(name)),
    max: Metric.value(PoolMetrics.maxConnections(name))
  }).pipe(
    Effect.map(({ used, idle, pending, max }) => ({
      used: used.value,
      idle: idle.value,
      pending: pending.value,
      max: max.value
    }))
  )

/**
 * Polls `effect` until `predicate` holds (or 5 s pass, then the last value is returned for the
 * assertion to report): the pool and its sampler run on their own schedule, and a loaded
 * machine must not turn a fixed sleep into a flaky test.
 */
const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>, predicate: (a: A) => boolean) =>
  Effect.gen(function* () {
    const deadline = Date.now() + 5_000
    let value = yield* effect
    while (!predicate(value) && Date.now() < deadline) {
      yield* Effect.sleep("20 millis")
      value = yield* effect
    }
    return value
  })

const sameAs =
  <A>(expected: A) =>
  (actual: A) =>
    JSON.stringify(actual) === JSON.stringify(expected)

describe("Database pool metrics", () => {
  it.live("a saturated pool shows every connection used and statements pending, then all idle", () =>
    withPool(
      { DB_POOL_MAX: "2", DB_POOL_MIN: "0", DB_APPLICATION_NAME: "saturated" },
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const sleepers = yield* Effect.forkChild(
          Effect.forEach(Array.from({ length: 5 }), () => sql`SELECT pg_sleep(0.3)`, {
            concurrency: "unbounded",
            discard: true
          })
        )
        const saturated = { used: 2, idle: 0, pending: 3, max: 2 }
        assert.deepStrictEqual(yield* eventually(gauges("saturated"), sameAs(saturated)), saturated)

        yield* Fiber.join(sleepers)
        const drained = { used: 0, idle: 2, pending: 0, max: 2 }
        assert.deepStrictEqual(yield* eventually(gauges("saturated"), sameAs(drained)), drained)
      })
    )
  )

  it.live("connections idle for DB_IDLE_TIMEOUT are closed, down to DB_POOL_MIN", () =>
    withPool(
      {
        DB_POOL_MAX: "3",
        DB_POOL_MIN: "1",
        DB_IDLE_TIMEOUT: "100 millis",
        DB_APPLICATION_NAME: "shrinking"
      },
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* Effect.forEach(Array.from({ length: 3 }), () => sql`SELECT pg_sleep(0.05)`, {
          concurrency: "unbounded",
          discard: true
        })
        const shrunk = { used: 0, idle: 1, pending: 0, max: 3 }
        assert.deepStrictEqual(yield* eventually(gauges("shrinking"), sameAs(shrunk)), shrunk)
        // The server agrees: besides the connection running this query, none is left open (a
        // closed connection's backend leaves pg_stat_activity a moment after the socket closes).
        const others = sql<{ n: number }>`
          SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE application_name = 'shrinking' AND pid <> pg_backend_pid()`.pipe(
          Effect.map((rows) => rows[0].n)
        )
        assert.strictEqual(yield* eventually(others, (n) => n === 0), 0)
      })
    )
  )

  it.live("Prometheus shows the pool under the OpenTelemetry names", () =>
    withPool(
      { DB_POOL_MAX: "4", DB_APPLICATION_NAME: "exposed" },
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql`SELECT 1`
        yield* eventually(gauges("exposed"), (g) => g.idle === 1)
        const text = yield* PrometheusMetrics.format()
        const sample = (name: string, ...labels: ReadonlyArray<string>) =>
          text
            .split("\n")
            .find((line) => line.startsWith(`${name}{`) && labels.every((label) => line.includes(label)))
            ?.split(" ")
            .at(-1)
        const pool = 'db_client_connection_pool_name="exposed"'
        assert.strictEqual(
          sample("db_client_connection_count", pool, 'db_client_connection_state="idle"'),
          "1"
        )
        assert.strictEqual(
          sample("db_client_connection_count", pool, 'db_client_connection_state="used"'),
          "0"
        )
        assert.strictEqual(sample("db_client_connection_pending_requests", pool), "0")
        assert.strictEqual(sample("db_client_connection_max", pool), "4")
      })
    )
  )
})

describe("Database readiness", () => {
  it.live("is down within DB_READY_TIMEOUT when no connection frees up, and up again after", () =>
    withPool(
      { DB_POOL_MAX: "1", DB_READY_TIMEOUT: "100 millis" },
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const readiness = yield* Readiness
        const holder = yield* Effect.forkChild(sql`SELECT pg_sleep(1.5)`)
        // While the only connection is held, the check gives up after DB_READY_TIMEOUT (100 ms).
        // Without it the check would wait for the connection (the kit allows it 2 s) and
        // report up once the 1.5 s hold ends.
        const held = yield* eventually(
          Effect.map(readiness.report, (r) => r.checks),
          (checks) => checks.database === "down"
        )
        assert.deepStrictEqual(held, { database: "down" })
        yield* Fiber.join(holder)
        const up = yield* eventually(
          Effect.map(readiness.report, (r) => r.checks),
          (checks) => checks.database === "up"
        )
        assert.deepStrictEqual(up, { database: "up" })
      })
    )
  )
})

describe("Database client", () => {
  it.live("a transaction commits, and a failed one rolls back", () =>
    withPool(
      {},
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE items (id int PRIMARY KEY)`
        yield* sql.withTransaction(sql`INSERT INTO items VALUES (1)`)
        yield* Effect.flip(
          sql.withTransaction(Effect.andThen(sql`INSERT INTO items VALUES (2)`, Effect.fail("no")))
        )
        const rows = yield* sql<{ id: number }>`SELECT id FROM items ORDER BY id`
        assert.deepStrictEqual(
          rows.map((row) => row.id),
          [1]
        )
      })
    )
  )

  it.live("a COMMIT that PostgreSQL answers with ROLLBACK fails the transaction", () =>
    withPool(
      {},
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE items (id int PRIMARY KEY)`
        const error = yield* Effect.flip(
          sql.withTransaction(
            Effect.gen(function* () {
              yield* sql`INSERT INTO items VALUES (1)`
              // The error is swallowed, but PostgreSQL has aborted the transaction.
              yield* Effect.ignore(sql`INSERT INTO items VALUES (1)`)
            })
          )
        )
        assert.match(error.message, /COMMIT rolled back/)
        const rows = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM items`
        assert.strictEqual(rows[0].n, 0)
      })
    )
  )

  it.live("an interrupted statement gives its connection back, and the pool goes on", () =>
    withPool(
      { DB_POOL_MAX: "1", DB_APPLICATION_NAME: "interrupted" },
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const slow = yield* Effect.forkChild(sql`SELECT pg_sleep(30)`)
        yield* eventually(gauges("interrupted"), (g) => g.used === 1)
        yield* Fiber.interrupt(slow)
        // With one connection, this only runs if the interrupted statement gave it back (and
        // long before the 30 s sleep would have ended).
        const rows = yield* sql<{ n: number }>`SELECT 1 AS n`
        assert.strictEqual(rows[0].n, 1)
        assert.strictEqual((yield* eventually(gauges("interrupted"), (g) => g.used === 0)).used, 0)
      })
    )
  )

  it.live("a connection PostgreSQL closed is replaced, and a stream runs on a pinned one", () =>
    withPool(
      { DB_POOL_MAX: "1" },
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const pid = sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.pipe(
          Effect.map((rows) => rows[0].pid)
        )
        const first = yield* pid
        // The only connection's backend ends itself: the statement fails with the socket.
        yield* Effect.flip(sql`SELECT pg_terminate_backend(pg_backend_pid())`)
        // A new connection answers. The socket's close can reach the pool a moment after the
        // failed statement's answer, and a statement sent in between fails with it: a few tries.
        const second = yield* Effect.retry(pid, { times: 3 })
        assert.notStrictEqual(second, first)
        const rows = yield* Stream.runCollect(sql<{ n: number }>`SELECT generate_series(1, 3) AS n`.stream)
        assert.deepStrictEqual(
          rows.map((row) => row.n),
          [1, 2, 3]
        )
        assert.strictEqual(yield* pid, second)
      })
    )
  )

  it.live("LISTEN/NOTIFY and JSON parameters work through the pool", () =>
    withPool(
      {},
      Effect.gen(function* () {
        const pg = yield* PgClient.PgClient
        // The listener holds a connection until its scope closes, which must be before the pool's.
        yield* Effect.scoped(
          Effect.gen(function* () {
            const notifications = yield* pg.listen("events")
            yield* pg.notify("events", "hello")
            const received = yield* Queue.take(notifications)
            assert.strictEqual(received.payload, "hello")
          })
        )
        const rows = yield* pg<{ v: string }>`SELECT (${pg.json({ a: "b" })}::jsonb)->>'a' AS v`
        assert.strictEqual(rows[0].v, "b")
      })
    )
  )
})
