import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/**
 * One row per payment, keyed by the order id. `claim_*` mark an operation in flight at the
 * processor (see `PaymentsRepo`): only the holder of the claim calls the processor, and a
 * claim older than `PENDING_TIMEOUT` is presumed crashed and may be taken over. The card token
 * itself is never stored, only its SHA-256, to recognise a repeated authorization.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE payments (
      id uuid PRIMARY KEY,
      status text NOT NULL
        CHECK (status IN ('PENDING', 'AUTHORIZED', 'CAPTURED', 'VOIDED', 'REFUNDED', 'DECLINED')),
      amount bigint NOT NULL CHECK (amount > 0),
      currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      token_hash text NOT NULL,
      decline_reason text,
      authorization_ref text,
      claim_token uuid,
      claim_action text CHECK (claim_action IN ('authorize', 'capture', 'void', 'refund')),
      claimed_at timestamptz,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      CHECK ((status = 'DECLINED') = (decline_reason IS NOT NULL)),
      CHECK (status IN ('PENDING', 'DECLINED') OR authorization_ref IS NOT NULL),
      CHECK ((claim_token IS NULL) = (claimed_at IS NULL) AND (claim_token IS NULL) = (claim_action IS NULL))
    )
  `
})
