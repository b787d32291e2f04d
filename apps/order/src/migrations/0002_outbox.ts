import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/**
 * The transactional outbox: commands written in the same transaction as the state that asks for
 * them, delivered by the relay. `saga_id` groups the commands of one saga (an order): the
 * partial unique index keeps at most one pending command per saga, which is what makes a saga's
 * steps strictly sequential. The partial index on `next_attempt_at` serves the relay's claim.
 * `secret` holds what must not outlive delivery (a card token): it is erased when the row is
 * finished. Finished rows are kept (`done`, `dead`, `superseded`) for `OUTBOX_RETENTION`.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE outbox (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      saga_id uuid NOT NULL,
      command text NOT NULL,
      payload jsonb NOT NULL,
      secret jsonb,
      status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'done', 'dead', 'superseded')),
      retry_until_done boolean NOT NULL DEFAULT false,
      attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
      next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      last_error text,
      traceparent text,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      finished_at timestamptz,
      CHECK ((status = 'pending') = (finished_at IS NULL))
    )
  `
  yield* sql`CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending'`
  yield* sql`CREATE UNIQUE INDEX outbox_one_pending_per_saga ON outbox (saga_id) WHERE status = 'pending'`
  yield* sql`CREATE INDEX outbox_finished ON outbox (finished_at) WHERE status <> 'pending'`
})
