import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/**
 * Idempotency keys, scoped per customer. `request_hash` recognises the same request body;
 * `response_*` is the answer the first request gave (null while it is in flight);
 * `locked_until` is the lease of the request in flight (a crashed one's lease runs out, and a
 * retry takes over). Rows past `expires_at` are as good as absent and swept.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE idempotency_keys (
      customer_id text NOT NULL,
      key text NOT NULL,
      request_hash text NOT NULL,
      order_id uuid NOT NULL,
      response_status integer,
      response_body text,
      locked_until timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      expires_at timestamptz NOT NULL,
      PRIMARY KEY (customer_id, key),
      CHECK ((response_status IS NULL) = (response_body IS NULL))
    )
  `
  yield* sql`CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at)`
})
