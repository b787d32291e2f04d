import { NumberFromInt8 } from "@acme/pool"
/**
 * SQL of the transactional outbox. `enqueue` runs inside the caller's transaction (that is the
 * point of an outbox: the command commits with the state that asks for it, or not at all) and
 * wakes the relays of every replica when it commits. The relay claims one due row at a time with
 * `FOR UPDATE SKIP LOCKED`, holds its lock while delivering, and finishes or reschedules it in
 * the same transaction. Times are the database's (`clock_timestamp()`), the one clock all
 * replicas share. Database and decode failures are defects here.
 */
import { Context, Effect, Layer, Option, Schema } from "effect"
import { SqlClient } from "effect/sql"
import type { Statement } from "effect/sql"
import { channel, outboxPayload } from "../Notifications/Notifications.ts"

/**
 * Set while a relay worker delivers a row. Commands enqueued then do not notify the relays: the
 * worker claims due rows again as soon as its transaction commits, and waking every idle worker
 * of every replica for each saga step would only make them race for that one row.
 */
export const InRelay = Context.Reference<boolean>("order/Outbox/InRelay", { defaultValue: () => false })

/** A command to deliver, as the relay hands it to its handler. */
export interface OutboxMessage {
  readonly id: number
  /** The saga (order) the command belongs to; at most one of its commands is pending. */
  readonly sagaId: string
  readonly command: string
  readonly payload: unknown
  /** What must not outlive delivery (a card token); erased when the row is finished. */
  readonly secret: unknown
  /** Attempts made before this one. */
  readonly attempts: number
  /** Never dead-lettered: retried (at the capped backoff) until it succeeds. */
  readonly retryUntilDone: boolean
  /** The W3C traceparent of the span that enqueued it. */
  readonly traceparent: string | undefined
}

export interface NewCommand {
  readonly sagaId: string
  readonly command: string
  readonly payload: unknown
  readonly secret?: unknown
  readonly retryUntilDone: boolean
  readonly traceparent: string | undefined
}

const MessageRow = Schema.Struct({
  id: NumberFromInt8,
  saga_id: Schema.String,
  command: Schema.String,
  payload: Schema.Unknown,
  secret: Schema.Unknown,
  attempts: Schema.Int,
  retry_until_done: Schema.Boolean,
  traceparent: Schema.NullOr(Schema.String)
})
const decodeMessages = Schema.decodeUnknownEffect(Schema.Array(MessageRow))

const toMessage = (row: typeof MessageRow.Type): OutboxMessage => ({
  id: row.id,
  sagaId: row.saga_id,
  command: row.command,
  payload: row.payload,
  secret: row.secret,
  attempts: row.attempts,
  retryUntilDone: row.retry_until_done,
  traceparent: row.traceparent ?? undefined
})

const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value))

/** Keeps `last_error` readable in a row: the start of the message. */
const truncate = (text: string) => (text.length > 2000 ? `${text.slice(0, 2000)}...` : text)

export class OutboxRepo extends Context.Service<
  OutboxRepo,
  {
    /** Runs `self` in one transaction (a savepoint if one is open). */
    readonly transaction: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
    /** Adds a pending command, due now, and notifies the relays (at commit; see `InRelay`). */
    readonly enqueue: (command: NewCommand) => Effect.Effect<void>
    /** The oldest due pending row, locked until the transaction ends; rows others hold are skipped. */
    readonly claimDue: Effect.Effect<Option.Option<OutboxMessage>>
    /** That row, locked, if it is still pending and no one else holds it. */
    readonly claimById: (id: number) => Effect.Effect<Option.Option<OutboxMessage>>
    /** Finishes a row: delivered (`done`), given up (`dead`), taken back (`superseded`); counts the attempt. */
    readonly finish: (
      id: number,
      status: "done" | "dead" | "superseded",
      lastError: string | undefined
    ) => Effect.Effect<void>
    /** Counts a failed attempt and makes the row due again after `delayMillis`. */
    readonly reschedule: (id: number, delayMillis: number, lastError: string) => Effect.Effect<void>
    /**
     * Supersedes the saga's pending command if no relay is delivering it right now (its lock is
     * free): the command that was superseded, or none (there is none, or it is in flight).
     */
    readonly supersedePending: (sagaId: string) => Effect.Effect<Option.Option<string>>
    /** Age in seconds of the oldest due pending row; 0 when none is due. */
    readonly lag: Effect.Effect<number>
    /** Deletes up to `limit` rows finished longer than `retentionMillis` ago; how many. */
    readonly purgeFinished: (retentionMillis: number, limit: number) => Effect.Effect<number>
  }
>()("order/OutboxRepo") {
  static readonly layer = Layer.effect(
    OutboxRepo,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient

      const columns = sql`id, saga_id, command, payload, secret, attempts, retry_until_done, traceparent`

      const transaction = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
        sql.withTransaction(self).pipe(Effect.catchTag("SqlError", Effect.die)) as Effect.Effect<A, E, R>

      const enqueue = (command: NewCommand) =>
        Effect.gen(function* () {
          yield* sql`
            INSERT INTO outbox (saga_id, command, payload, secret, retry_until_done, traceparent)
            VALUES (
              ${command.sagaId}, ${command.command}, ${json(command.payload)}::jsonb,
              ${json(command.secret)}::jsonb, ${command.retryUntilDone}, ${command.traceparent ?? null}
            )
          `
          if (!(yield* InRelay)) yield* sql`SELECT pg_notify(${channel}, ${outboxPayload})`
        }).pipe(Effect.orDie)

      const claim = (condition: Statement.Fragment) =>
        sql`
          SELECT ${columns} FROM outbox
          WHERE status = 'pending' AND ${condition}
          ORDER BY next_attempt_at
          LIMIT 1
          FOR UPDATE SKIP LOCKED
        `.pipe(
          Effect.flatMap(decodeMessages),
          Effect.map((rows) => Option.map(Option.fromNullishOr(rows[0]), toMessage)),
          Effect.orDie
        )

      const claimDue = claim(sql`next_attempt_at <= clock_timestamp()`)
      const claimById = (id: number) => claim(sql`id = ${id}`)

      const finish = (id: number, status: "done" | "dead" | "superseded", lastError: string | undefined) =>
        sql`
          UPDATE outbox
          SET status = ${status}, attempts = attempts + 1, finished_at = clock_timestamp(),
              secret = NULL, last_error = COALESCE(${lastError === undefined ? null : truncate(lastError)}, last_error)
          WHERE id = ${id}
        `.pipe(Effect.asVoid, Effect.orDie)

      const reschedule = (id: number, delayMillis: number, lastError: string) =>
        sql`
          UPDATE outbox
          SET attempts = attempts + 1, last_error = ${truncate(lastError)},
              next_attempt_at = clock_timestamp() + make_interval(secs => ${delayMillis / 1000})
          WHERE id = ${id}
        `.pipe(Effect.asVoid, Effect.orDie)

      const supersedePending = (sagaId: string) =>
        sql<{ command: string }>`
          UPDATE outbox SET status = 'superseded', finished_at = clock_timestamp(), secret = NULL
          WHERE id = (
            SELECT id FROM outbox WHERE saga_id = ${sagaId} AND status = 'pending'
            FOR UPDATE SKIP LOCKED
          )
          RETURNING command
        `.pipe(
          Effect.map((rows) => Option.map(Option.fromNullishOr(rows[0]), (row) => row.command)),
          Effect.orDie
        )

      const lag = sql<{ seconds: number | null }>`
        SELECT extract(epoch FROM clock_timestamp() - min(next_attempt_at))::float8 AS seconds
        FROM outbox
        WHERE status = 'pending' AND next_attempt_at <= clock_timestamp()
      `.pipe(
        Effect.map((rows) => Math.max(0, rows[0]?.seconds ?? 0)),
        Effect.orDie
      )

      const purgeFinished = (retentionMillis: number, limit: number) =>
        sql`
          DELETE FROM outbox WHERE id IN (
            SELECT id FROM outbox
            WHERE status <> 'pending'
              AND finished_at < clock_timestamp() - make_interval(secs => ${retentionMillis / 1000})
            LIMIT ${limit}
          )
          RETURNING id
        `.pipe(
          Effect.map((rows) => rows.length),
          Effect.orDie
        )

      return OutboxRepo.of({
        transaction,
        enqueue,
        claimDue,
        claimById,
        finish,
        reschedule,
        supersedePending,
        lag,
        purgeFinished
      })
    })
  )
}
