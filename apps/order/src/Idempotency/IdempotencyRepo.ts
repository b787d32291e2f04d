/**
 * SQL for idempotency keys, scoped per customer. A key row is claimed by the request that
 * inserts it (or replaces an expired one), in the same transaction as the order it creates;
 * concurrent inserts of one key wait on its primary key, so exactly one of them creates an order.
 * Times are the database's. Database and decode failures are defects here.
 */
import { OrderId } from "@acme/contracts"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { SqlClient } from "effect/sql"

/** Which key: a customer's key. */
export interface KeyRef {
  readonly customerId: string
  readonly key: string
}

/** A key as stored, read after a failed claim. */
export interface KeyRecord {
  readonly requestHash: string
  readonly orderId: OrderId
  /** The answer the first request gave, once it gave one. */
  readonly response: Option.Option<{ readonly status: number; readonly body: string }>
  /** Whether the request in flight still holds its lease (false: it crashed or gave up). */
  readonly leased: boolean
}

const Row = Schema.Struct({
  request_hash: Schema.String,
  order_id: OrderId,
  response_status: Schema.NullOr(Schema.Int),
  response_body: Schema.NullOr(Schema.String),
  leased: Schema.Boolean
})
const decodeRows = Schema.decodeUnknownEffect(Schema.Array(Row))

const seconds = (millis: number) => millis / 1000

export class IdempotencyRepo extends Context.Service<
  IdempotencyRepo,
  {
    /**
     * Claims the key for a new request (inserting it, or replacing an expired one) with a lease
     * of `leaseMillis` and a life of `ttlMillis`; false if it is taken.
     */
    readonly claim: (
      ref: KeyRef,
      record: { readonly requestHash: string; readonly orderId: OrderId },
      leaseMillis: number,
      ttlMillis: number
    ) => Effect.Effect<boolean>
    /** The key, unless it is absent or expired. */
    readonly find: (ref: KeyRef) => Effect.Effect<Option.Option<KeyRecord>>
    /** Takes over a key whose request gave no answer and lost its lease; false if it did not. */
    readonly takeOver: (ref: KeyRef, leaseMillis: number) => Effect.Effect<boolean>
    /** Stores the answer (status and JSON body, if none is stored yet) and ends the lease. */
    readonly complete: (ref: KeyRef, status: number, body: string) => Effect.Effect<void>
    /** Ends the lease without an answer, so a retry may take over at once. */
    readonly release: (ref: KeyRef) => Effect.Effect<void>
    /** Deletes up to `limit` expired keys; how many. */
    readonly deleteExpired: (limit: number) => Effect.Effect<number>
  }
>()("order/IdempotencyRepo") {
  static readonly layer = Layer.effect(
    IdempotencyRepo,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient

      const claim = (
        ref: KeyRef,
        record: { readonly requestHash: string; readonly orderId: OrderId },
        leaseMillis: number,
        ttlMillis: number
      ) =>
        sql`
          INSERT INTO idempotency_keys
            (customer_id, key, request_hash, order_id, locked_until, expires_at)
          VALUES (
            ${ref.customerId}, ${ref.key}, ${record.requestHash}, ${record.orderId},
            clock_timestamp() + make_interval(secs => ${seconds(leaseMillis)}),
            clock_timestamp() + make_interval(secs => ${seconds(ttlMillis)})
          )
          ON CONFLICT (customer_id, key) DO UPDATE SET
            request_hash = EXCLUDED.request_hash,
            order_id = EXCLUDED.order_id,
            response_status = NULL,
            response_body = NULL,
            locked_until = EXCLUDED.locked_until,
            created_at = clock_timestamp(),
            expires_at = EXCLUDED.expires_at
          WHERE idempotency_keys.expires_at <= clock_timestamp()
          RETURNING order_id
        `.pipe(
          Effect.map((rows) => rows.length === 1),
          Effect.orDie
        )

      const find = (ref: KeyRef) =>
        sql`
          SELECT request_hash, order_id, response_status, response_body,
                 locked_until > clock_timestamp() AS leased
          FROM idempotency_keys
          WHERE customer_id = ${ref.customerId} AND key = ${ref.key} AND expires_at > clock_timestamp()
        `.pipe(
          Effect.flatMap(decodeRows),
          Effect.map((rows) =>
            Option.map(Option.fromNullishOr(rows[0]), (row): KeyRecord => ({
              requestHash: row.request_hash,
              orderId: row.order_id,
              response:
                row.response_status === null || row.response_body === null
                  ? Option.none()
                  : Option.some({ status: row.response_status, body: row.response_body }),
              leased: row.leased
            }))
          ),
          Effect.orDie
        )

      const takeOver = (ref: KeyRef, leaseMillis: number) =>
        sql`
          UPDATE idempotency_keys
          SET locked_until = clock_timestamp() + make_interval(secs => ${seconds(leaseMillis)})
          WHERE customer_id = ${ref.customerId} AND key = ${ref.key}
            AND response_status IS NULL AND locked_until <= clock_timestamp()
            AND expires_at > clock_timestamp()
          RETURNING key
        `.pipe(
          Effect.map((rows) => rows.length === 1),
          Effect.orDie
        )

      const complete = (ref: KeyRef, status: number, body: string) =>
        sql`
          UPDATE idempotency_keys
          SET response_status = ${status}, response_body = ${body},
              locked_until = clock_timestamp()
          WHERE customer_id = ${ref.customerId} AND key = ${ref.key} AND response_status IS NULL
        `.pipe(Effect.asVoid, Effect.orDie)

      const release = (ref: KeyRef) =>
        sql`
          UPDATE idempotency_keys SET locked_until = clock_timestamp()
          WHERE customer_id = ${ref.customerId} AND key = ${ref.key} AND response_status IS NULL
        `.pipe(Effect.asVoid, Effect.orDie)

      const deleteExpired = (limit: number) =>
        sql`
          DELETE FROM idempotency_keys WHERE ctid IN (
            SELECT ctid FROM idempotency_keys WHERE expires_at <= clock_timestamp() LIMIT ${limit}
          )
          RETURNING key
        `.pipe(
          Effect.map((rows) => rows.length),
          Effect.orDie
        )

      return IdempotencyRepo.of({ claim, find, takeOver, complete, release, deleteExpired })
    })
  )
}
