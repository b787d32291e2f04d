import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/** Serves the sweeper of abandoned authorizations, which looks only at AUTHORIZED rows by age. */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE INDEX payments_authorized_by_age ON payments (updated_at) WHERE status = 'AUTHORIZED'`
})
