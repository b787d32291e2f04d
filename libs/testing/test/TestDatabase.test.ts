import { assert, describe, it, layer } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { Config, Effect, Exit, Redacted, Scope } from "effect"
import { Reactivity } from "effect/reactivity"
import { SqlClient } from "effect/sql"
import { TestDatabase } from "../src/index.ts"

/** A single connection to the server's maintenance database (not the test database). */
const serverClient = Effect.flatMap(Config.Redacted("DATABASE_URL"), (url) => PgClient.makeClient({ url }))

const databaseExists = (sql: SqlClient.SqlClient, name: string) =>
  sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM pg_database WHERE datname = ${name}`.pipe(
    Effect.map(([row]) => row?.n === 1)
  )

describe("the test run", () => {
  it("gives test workers DATABASE_URL", () => {
    assert.match(process.env["DATABASE_URL"] ?? "", /^postgres(ql)?:\/\//)
  })
})

layer(TestDatabase.layerClient)("TestDatabase.layerClient", (it) => {
  it.effect("connects to the fresh database", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const db = yield* TestDatabase
      const [row] = yield* sql<{ readonly name: string }>`SELECT current_database() AS name`
      assert.strictEqual(row?.name, db.name)
      assert.match(db.name, /^test_[a-z0-9]+_[0-9a-f]{8}$/)
      assert.include(Redacted.value(db.url), `/${db.name}`)
    })
  )

  it.effect("creates a table, inserts and selects", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)`
      yield* sql`INSERT INTO items ${sql.insert([{ name: "a" }, { name: "b" }])}`
      const rows = yield* sql<{ readonly name: string }>`SELECT name FROM items ORDER BY id`
      assert.deepStrictEqual(
        rows.map((row) => row.name),
        ["a", "b"]
      )
    })
  )

  it.effect("shares the database between the tests of the suite", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM items`
      assert.strictEqual(row?.n, 2)
    })
  )
})

// PgClient.makeClient needs Reactivity (the layers above bring their own).
layer(Reactivity.layer)("TestDatabase.make", (it) => {
  it.effect("gives each scope its own database", () =>
    Effect.gen(function* () {
      const a = yield* TestDatabase.make
      const b = yield* TestDatabase.make
      assert.notStrictEqual(a.name, b.name)
      const sqlA = yield* PgClient.makeClient({ url: a.url })
      const sqlB = yield* PgClient.makeClient({ url: b.url })
      yield* sqlA`CREATE TABLE only_in_a (id int)`
      const [row] = yield* sqlB<{ readonly n: number }>`
        SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'only_in_a'`
      assert.strictEqual(row?.n, 0)
    })
  )

  it.effect("drops the database when its scope closes, even with connections still open", () =>
    Effect.gen(function* () {
      const server = yield* serverClient
      // A connection to the test database that outlives its scope: DROP ... WITH (FORCE) must cut it.
      const outlives = yield* Scope.make()
      const name = yield* Effect.scoped(
        Effect.gen(function* () {
          const db = yield* TestDatabase.make
          const sql = yield* PgClient.makeClient({ url: db.url }).pipe(Scope.provide(outlives))
          yield* sql`SELECT 1`
          assert.isTrue(yield* databaseExists(server, db.name))
          return db.name
        })
      )
      assert.isFalse(yield* databaseExists(server, name))
      yield* Scope.close(outlives, Exit.void)
    })
  )
})
