import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/**
 * The catalog with its stock. `available` can never go negative (the CHECK is the backstop
 * behind the conditional updates). SKUs sort bytewise (`C`), the same on every server, since
 * list cursors and the lock order depend on it.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE products (
      sku text COLLATE "C" PRIMARY KEY,
      name text NOT NULL,
      price_amount bigint NOT NULL CHECK (price_amount >= 0),
      currency char(3) NOT NULL,
      available integer NOT NULL CONSTRAINT products_available_non_negative CHECK (available >= 0),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )
  `
})
