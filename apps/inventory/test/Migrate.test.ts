import { startProcess, TestDatabase } from "@acme/testing"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { fileURLToPath } from "node:url"
import { demoProducts } from "../src/seed.ts"

const entry = fileURLToPath(new URL("../src/migrate.ts", import.meta.url))

/** Runs `src/migrate.ts` as a process on the test database; its exit code and output. */
const migrate = (env: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const db = yield* TestDatabase
    const process = yield* startProcess(entry, { DATABASE_URL: Redacted.value(db.url), ...env })
    const code = yield* process.exited
    return { code, output: process.output() }
  }).pipe(Effect.scoped)

describe(`migrate.ts (${"Deno" in globalThis ? "Deno" : "Node"})`, () => {
  layer(TestDatabase.layerClient, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect(
      "migrates, seeds the demo data when asked, and never overwrites a product on a second run",
      () =>
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          const first = yield* migrate()
          assert.strictEqual(first.code, 0, first.output)
          const count = () =>
            sql<{ n: number }>`SELECT count(*)::int AS n FROM products`.pipe(Effect.map((r) => r[0].n))
          assert.strictEqual(yield* count(), 0)

          const seeded = yield* migrate({ SEED_DEMO_DATA: "true" })
          assert.strictEqual(seeded.code, 0, seeded.output)
          assert.strictEqual(yield* count(), demoProducts.length)
          const eur = yield* sql<{
            n: number
          }>`SELECT count(*)::int AS n FROM products WHERE currency = 'EUR'`
          assert.strictEqual(eur[0].n, demoProducts.length)

          const sku = demoProducts[0].sku
          yield* sql`UPDATE products SET available = 3, name = 'Changed' WHERE sku = ${sku}`
          const again = yield* migrate({ SEED_DEMO_DATA: "true" })
          assert.strictEqual(again.code, 0, again.output)
          const row = yield* sql<{ available: number; name: string }>`
            SELECT available, name FROM products WHERE sku = ${sku}
          `
          assert.deepStrictEqual(row[0], { available: 3, name: "Changed" })
          assert.strictEqual(yield* count(), demoProducts.length)
        }),
      60_000
    )

    it.effect(
      "exits 1 naming the setting when a setting is bad",
      () =>
        Effect.gen(function* () {
          const result = yield* migrate({ SEED_DEMO_DATA: "perhaps" })
          assert.strictEqual(result.code, 1)
          assert.match(result.output, /SEED_DEMO_DATA/)
        }),
      60_000
    )
  })
})
