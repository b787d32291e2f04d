import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/**
 * A committed reservation can be returned (its order was cancelled after it was sold): widen the
 * state check with RETURNED. Existing rows all satisfy the new check, so it is validated at once.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    ALTER TABLE reservations
      DROP CONSTRAINT reservations_state_check,
      ADD CONSTRAINT reservations_state_check
        CHECK (state IN ('RESERVED', 'COMMITTED', 'RELEASED', 'RETURNED'))
  `
})
