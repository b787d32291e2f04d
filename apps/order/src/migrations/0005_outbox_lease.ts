import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/**
 * Leases instead of row locks: a relay claims a row by stamping `claim_token` and
 * `claimed_until` (and pushing `next_attempt_at` to the lease's end, so the due index skips the
 * row until the lease runs out), delivers it with no transaction open, and records the outcome
 * only if the row still carries its token. A row whose lease ran out is due again and is claimed
 * afresh, under a new token: the relay that lost it can no longer record it.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE outbox ADD COLUMN claim_token uuid, ADD COLUMN claimed_until timestamptz`
})
