/**
 * The payments table. An operation that calls the processor first takes a claim on the row
 * (a conditional UPDATE, or the INSERT of a new authorization): only the holder of the claim
 * calls the processor and records the outcome, so concurrent duplicates never reach the
 * processor twice. A claim is released on failure; one older than `staleBefore` is presumed
 * abandoned (a crash between the processor call and recording its outcome) and can be taken
 * over. Completing checks the claim token, so a request whose claim was taken over cannot
 * overwrite the outcome recorded by its successor.
 *
 * SQL and decoding failures are defects here: the service sees only its own errors.
 */
import type { ChargeAmount } from "@acme/contracts/payment"
import { OrderId } from "@acme/contracts"
import { DeclineReason, PaymentStatus } from "@acme/contracts/payment"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { SqlClient } from "effect/sql"

export const ClaimAction = Schema.Literals(["authorize", "capture", "void", "refund"])
export type ClaimAction = typeof ClaimAction.Type

export interface Claim {
  readonly token: string
  readonly action: ClaimAction
  readonly at: Date
}

/** A payment as stored. */
export interface PaymentRecord {
  readonly id: OrderId
  readonly status: PaymentStatus
  readonly amount: ChargeAmount
  readonly tokenHash: string
  readonly declineReason: DeclineReason | undefined
  /** The processor's authorization id, once authorized. */
  readonly authorization: string | undefined
  /** The operation in flight at the processor, if any. */
  readonly claim: Claim | undefined
  readonly createdAt: Date
  readonly updatedAt: Date
}

const Row = Schema.Struct({
  id: OrderId,
  status: PaymentStatus,
  amount: Schema.BigInt,
  currency: Schema.String,
  token_hash: Schema.String,
  decline_reason: Schema.NullOr(DeclineReason),
  authorization_ref: Schema.NullOr(Schema.String),
  claim_token: Schema.NullOr(Schema.String),
  claim_action: Schema.NullOr(ClaimAction),
  claimed_at: Schema.NullOr(Schema.Date),
  created_at: Schema.Date,
  updated_at: Schema.Date
})

const decodeRows = Schema.decodeUnknownEffect(Schema.Array(Row))

const toRecord = (row: typeof Row.Type): PaymentRecord => ({
  id: row.id,
  status: row.status,
  // At most 10^12 (the contract's bound), so exact as a number.
  amount: { amount: Number(row.amount), currency: row.currency },
  tokenHash: row.token_hash,
  declineReason: row.decline_reason ?? undefined,
  authorization: row.authorization_ref ?? undefined,
  claim:
    row.claim_token === null || row.claim_action === null || row.claimed_at === null
      ? undefined
      : { token: row.claim_token, action: row.claim_action, at: row.claimed_at },
  createdAt: row.created_at,
  updatedAt: row.updated_at
})

/** The first row of a RETURNING / SELECT, decoded; SQL and decode failures are defects. */
const first = <E, R>(
  rows: Effect.Effect<ReadonlyArray<unknown>, E, R>
): Effect.Effect<Option.Option<PaymentRecord>, never, R> =>
  rows.pipe(
    Effect.flatMap(decodeRows),
    Effect.map((decoded) => Option.map(Option.fromNullishOr(decoded[0]), toRecord)),
    Effect.orDie
  )

/** The outcome of an operation, written when its claim is completed. */
export interface Completion {
  readonly status: PaymentStatus
  readonly declineReason?: DeclineReason
  readonly authorization?: string
}

export class PaymentsRepo extends Context.Service<
  PaymentsRepo,
  {
    /** Inserts a PENDING payment claimed for its authorization; none if the id exists. */
    readonly insertPending: (input: {
      readonly id: OrderId
      readonly amount: ChargeAmount
      readonly tokenHash: string
      readonly claimToken: string
      readonly now: Date
    }) => Effect.Effect<Option.Option<PaymentRecord>>
    readonly find: (id: OrderId) => Effect.Effect<Option.Option<PaymentRecord>>
    /**
     * Claims the payment for `action` if it is in status `from` and not claimed (or claimed
     * before `staleBefore`); none otherwise.
     */
    readonly claim: (input: {
      readonly id: OrderId
      readonly from: PaymentStatus
      readonly action: ClaimAction
      readonly claimToken: string
      readonly now: Date
      readonly staleBefore: Date
    }) => Effect.Effect<Option.Option<PaymentRecord>>
    /** Records the outcome and drops the claim, if `claimToken` still holds it; none otherwise. */
    readonly complete: (input: {
      readonly id: OrderId
      readonly claimToken: string
      readonly completion: Completion
      readonly now: Date
    }) => Effect.Effect<Option.Option<PaymentRecord>>
    /** Drops the claim, if `claimToken` still holds it, leaving the status as it was. */
    readonly release: (input: { readonly id: OrderId; readonly claimToken: string }) => Effect.Effect<void>
    /** Up to `limit` payments AUTHORIZED before `before`, oldest first. */
    readonly authorizedBefore: (before: Date, limit: number) => Effect.Effect<ReadonlyArray<OrderId>>
  }
>()("payment/PaymentsRepo") {
  static readonly layer = Layer.effect(
    PaymentsRepo,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient

      const insertPending = Effect.fn("PaymentsRepo.insertPending")(function* (input: {
        readonly id: OrderId
        readonly amount: ChargeAmount
        readonly tokenHash: string
        readonly claimToken: string
        readonly now: Date
      }) {
        const { amount, claimToken, id, now, tokenHash } = input
        return yield* first(sql`
          INSERT INTO payments
            (id, status, amount, currency, token_hash, claim_token, claim_action, claimed_at, created_at, updated_at)
          VALUES
            (${id}, 'PENDING', ${amount.amount}, ${amount.currency}, ${tokenHash},
             ${claimToken}, 'authorize', ${now}, ${now}, ${now})
          ON CONFLICT (id) DO NOTHING
          RETURNING *
        `)
      })

      const find = Effect.fn("PaymentsRepo.find")(function* (id: OrderId) {
        return yield* first(sql`SELECT * FROM payments WHERE id = ${id}`)
      })

      const claim = Effect.fn("PaymentsRepo.claim")(function* (input: {
        readonly id: OrderId
        readonly from: PaymentStatus
        readonly action: ClaimAction
        readonly claimToken: string
        readonly now: Date
        readonly staleBefore: Date
      }) {
        return yield* first(sql`
          UPDATE payments
          SET claim_token = ${input.claimToken}, claim_action = ${input.action}, claimed_at = ${input.now}
          WHERE id = ${input.id}
            AND status = ${input.from}
            AND (claim_token IS NULL OR claimed_at < ${input.staleBefore})
          RETURNING *
        `)
      })

      const complete = Effect.fn("PaymentsRepo.complete")(function* (input: {
        readonly id: OrderId
        readonly claimToken: string
        readonly completion: Completion
        readonly now: Date
      }) {
        const { completion } = input
        return yield* first(sql`
          UPDATE payments
          SET status = ${completion.status},
              decline_reason = ${completion.declineReason ?? null},
              authorization_ref = COALESCE(${completion.authorization ?? null}, authorization_ref),
              claim_token = NULL, claim_action = NULL, claimed_at = NULL,
              updated_at = ${input.now}
          WHERE id = ${input.id} AND claim_token = ${input.claimToken}
          RETURNING *
        `)
      })

      const release = Effect.fn("PaymentsRepo.release")(function* (input: {
        readonly id: OrderId
        readonly claimToken: string
      }) {
        yield* sql`
          UPDATE payments SET claim_token = NULL, claim_action = NULL, claimed_at = NULL
          WHERE id = ${input.id} AND claim_token = ${input.claimToken}
        `.pipe(Effect.orDie)
      })

      const authorizedBefore = Effect.fn("PaymentsRepo.authorizedBefore")(function* (
        before: Date,
        limit: number
      ) {
        const rows = yield* sql<{ readonly id: string }>`
          SELECT id FROM payments
          WHERE status = 'AUTHORIZED' AND updated_at < ${before}
          ORDER BY updated_at
          LIMIT ${limit}
        `.pipe(Effect.orDie)
        return yield* Schema.decodeUnknownEffect(Schema.Array(OrderId))(rows.map((row) => row.id)).pipe(
          Effect.orDie
        )
      })

      return PaymentsRepo.of({ insertPending, find, claim, complete, release, authorizedBefore })
    })
  )
}
