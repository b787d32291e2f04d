import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/**
 * Order events, numbered by a counter row rather than a sequence: a transaction takes the next
 * number under the counter's row lock and holds it until it commits, so numbers become visible
 * in increasing order and a consumer that remembers the last number it saw never skips one that
 * commits later (which a plain sequence allows).
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE order_events (
      sequence bigint PRIMARY KEY,
      type text NOT NULL CHECK (type IN ('order.confirmed', 'order.rejected', 'order.cancelled')),
      order_id uuid NOT NULL,
      customer_id text NOT NULL,
      status text NOT NULL,
      reason text,
      occurred_at timestamptz NOT NULL DEFAULT clock_timestamp()
    )
  `
  yield* sql`
    CREATE TABLE order_event_counter (
      id boolean PRIMARY KEY DEFAULT true CHECK (id),
      last bigint NOT NULL
    )
  `
  yield* sql`INSERT INTO order_event_counter (id, last) VALUES (true, 0)`
})
