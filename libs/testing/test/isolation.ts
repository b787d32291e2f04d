import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { TestDatabase } from "../src/index.ts"

/**
 * A suite that creates the same table as its twin in another test file (run in another worker,
 * maybe at the same time) and expects to see only its own row. In a shared database one of the
 * two CREATE TABLEs would fail, or a suite would see the other's row.
 */
export const isolationSuite = (label: string) =>
  layer(TestDatabase.layerClient)(`isolation ${label}`, (it) => {
    it.effect("sees only its own data", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE shared_name (label text NOT NULL)`
        yield* sql`INSERT INTO shared_name (label) VALUES (${label})`
        const rows = yield* sql<{ readonly label: string }>`SELECT label FROM shared_name`
        assert.deepStrictEqual(
          rows.map((row) => row.label),
          [label]
        )
      })
    )
  })
