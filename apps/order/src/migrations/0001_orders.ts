import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/**
 * Orders and their saga. `seq` orders a customer's list (newest first) and is its cursor: a
 * timestamp would tie and lose precision on the way through JavaScript. `saga` is the state of
 * the pure state machine (`Saga/Saga.ts`); `status`, `reason` and the prices are kept in columns
 * because they are what is read. The payment token is kept only until the authorization is
 * enqueued (then it lives in that one outbox row, and is stripped when the row is finished).
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE orders (
      id uuid PRIMARY KEY,
      seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
      customer_id text NOT NULL,
      status text NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'REJECTED', 'CANCELLED')),
      reason text CHECK (reason IN (
        'out_of_stock', 'unknown_sku', 'payment_declined', 'payment_unavailable',
        'inventory_unavailable', 'cancelled_by_customer'
      )),
      decline_reason text,
      items jsonb NOT NULL,
      total_amount bigint CHECK (total_amount >= 0),
      currency text CHECK (currency ~ '^[A-Z]{3}$'),
      payment_token text,
      saga jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      confirmed_at timestamptz,
      CHECK ((status IN ('PENDING', 'CONFIRMED')) = (reason IS NULL)),
      CHECK ((total_amount IS NULL) = (currency IS NULL))
    )
  `
  yield* sql`CREATE INDEX orders_by_customer ON orders (customer_id, seq DESC)`
})
