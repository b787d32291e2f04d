import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/**
 * Reservations (id = the order id) and their items, with each unit price fixed at reservation
 * time. The partial index serves the sweeper, which looks only at RESERVED rows by expiry.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE reservations (
      id uuid PRIMARY KEY,
      state text NOT NULL CHECK (state IN ('RESERVED', 'COMMITTED', 'RELEASED')),
      expires_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )
  `
  yield* sql`
    CREATE INDEX reservations_expiring ON reservations (expires_at) WHERE state = 'RESERVED'
  `
  yield* sql`
    CREATE TABLE reservation_items (
      reservation_id uuid NOT NULL REFERENCES reservations (id),
      sku text COLLATE "C" NOT NULL REFERENCES products (sku),
      quantity integer NOT NULL CHECK (quantity > 0),
      unit_price_amount bigint NOT NULL CHECK (unit_price_amount >= 0),
      currency char(3) NOT NULL,
      PRIMARY KEY (reservation_id, sku)
    )
  `
})
