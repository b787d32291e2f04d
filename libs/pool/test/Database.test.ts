import { TestDatabase } from "@acme/testing"
import { Readiness } from "@acme/server"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { Database } from "../src/index.ts"

const migrations = {
  "0001_widgets": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE widgets (id int PRIMARY KEY)`
  })
}

/** The pool on a fresh database, configured the way a service is: from the environment. */
const withDatabase = <A, E>(
  env: Record<string, string>,
  use: Effect.Effect<A, E, SqlClient.SqlClient | Readiness>
) =>
  Effect.gen(function* () {
    const db = yield* TestDatabase.make
    const layer = Database.layer({ applicationName: "pool-test", migrations }).pipe(
      Layer.provideMerge(Readiness.layer),
      Layer.provide(
        ConfigProvider.layer(ConfigProvider.fromUnknown({ DATABASE_URL: Redacted.value(db.url), ...env }))
      )
    )
    const first = yield* Effect.scoped(Effect.provide(use, layer))
    // A second start on the same database: migrations already applied must not run again.
    yield* Effect.scoped(Effect.provide(Effect.void, layer))
    return first
  }).pipe(Effect.scoped)

describe("Database.layer", () => {
  it.live("runs the migrations at start, once", () =>
    withDatabase(
      {},
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM widgets`
        assert.strictEqual(rows[0].n, 0)
      })
    )
  )

  it.live("registers a database readiness check that is up", () =>
    withDatabase(
      {},
      Effect.gen(function* () {
        const readiness = yield* Readiness
        const report = yield* readiness.report
        assert.deepStrictEqual(report, { ready: true, draining: false, checks: { database: "up" } })
      })
    )
  )

  it.live("applies the statement timeout from DB_STATEMENT_TIMEOUT", () =>
    withDatabase(
      { DB_STATEMENT_TIMEOUT: "100 millis" },
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const error = yield* Effect.flip(sql`SELECT pg_sleep(2)`)
        assert.strictEqual(error.reason._tag, "StatementTimeoutError")
      })
    )
  )

  it.live("names its connections after the service", () =>
    withDatabase(
      {},
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ name: string }>`SELECT current_setting('application_name') AS name`
        assert.strictEqual(rows[0].name, "pool-test")
      })
    )
  )
})
