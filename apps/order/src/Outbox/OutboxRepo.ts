import { NumberFromInt8 } from "@acme/pool"
/**
 * SQL of the transactional outbox, with leases. `enqueue` runs inside the caller's transaction
 * (that is the point of an outbox: the command commits with the state that asks for it, or not
 * at all). A relay claims rows by stamping a lease on them (`claim_token`, `claimed_until`) in
 * one short statement, delivers them with no transaction open, and records each outcome with
 * `finish` or `reschedule`, which only take effect while the row still carries the claim's
 * token (fencing: a relay whose lease ran out, and whose row was claimed again elsewhere, cannot
 * record it). Times are the database's (`clock_timestamp()`), the one clock all replicas share.
 * Database and decode failures are defects here.
 *
 * A transaction run with {@link OutboxRepo.transaction} while a relay runs in this instance
 * enqueues its commands already claimed by this instance, and hands them to the relay when it
 * commits: the next command starts at once, with no claim query, no NOTIFY and no other relay
 * woken. If this instance dies before delivering them, their lease runs out and any relay
 * claims them.
 *
 * Each statement is a round trip (a write to the socket and a wait for PostgreSQL, a network hop
 * when the database is elsewhere), so such a transaction defers its outbox writes (the commands
 * it enqueues, and the delivered row it finishes) to the order's next statement (`carrying`:
 * common table expressions that the order's lock, `UPDATE` or `INSERT` carries), or, if there is
 * none, to one statement just before it commits. A saga step is then `BEGIN`, the order's lock, one write,
 * `COMMIT`. Ours, because `effect/sql` sends each statement of a transaction on its own (its
 * pipelining, `multiplex`, is for statements outside transactions) and has nothing that merges
 * a transaction's writes.
 */
import { Context, Data, Duration, Effect, Layer, Option, Schema } from "effect"
import type { Scope } from "effect"
import { SqlClient } from "effect/sql"
import type { Statement } from "effect/sql"
import { channel, outboxPayload } from "../Notifications/Notifications.ts"
import * as Settings from "../Settings.ts"

/** A command to deliver, as the relay hands it to its handler: claimed, under a lease. */
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
  /** The claim's fencing token: the outcome is recorded only while the row still carries it. */
  readonly claimToken: string
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
  traceparent: Schema.NullOr(Schema.String),
  claim_token: Schema.String
})
const decodeMessages = Schema.decodeUnknownEffect(Schema.Array(MessageRow))
/** The same rows as JSON (`json_agg`), as a statement that carries the outbox writes returns them. */
const decodeJsonMessages = Schema.decodeUnknownEffect(
  Schema.NullOr(Schema.Array(Schema.Struct({ ...MessageRow.fields, id: Schema.Int })))
)

const toMessage = (row: typeof MessageRow.Type): OutboxMessage => ({
  id: row.id,
  sagaId: row.saga_id,
  command: row.command,
  payload: row.payload,
  secret: row.secret,
  attempts: row.attempts,
  retryUntilDone: row.retry_until_done,
  traceparent: row.traceparent ?? undefined,
  claimToken: row.claim_token
})

const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value))

/** Keeps `last_error` readable in a row: the start of the message. */
const truncate = (text: string) => (text.length > 2000 ? `${text.slice(0, 2000)}...` : text)

/** What a transaction run with `transaction` has yet to write to the outbox, and what it enqueued. */
interface Tx {
  /** This instance's relay, which takes the claimed commands at commit; none: commands are not deferred. */
  readonly dispatcher: Dispatcher | undefined
  /** Commands enqueued, to insert (claimed for this instance) with the next write. */
  commands: Array<NewCommand>
  /** A delivered row to finish with the next write, fenced by its claim token. */
  delivered: OutboxMessage | undefined
  /** The commands inserted claimed, handed to the relay at commit. */
  readonly claimed: Array<OutboxMessage>
}
const CurrentTx = Context.Reference<Tx | undefined>("order/Outbox/Tx", { defaultValue: () => undefined })

/**
 * The row a deferred finish was for no longer carries its claim's token (its lease ran out and it
 * was claimed again elsewhere): the transaction is rolled back, its outcome discarded.
 */
export class LeaseLost extends Data.TaggedError("LeaseLost")<{ readonly id: number }> {}

/**
 * What a statement that carries the transaction's deferred outbox writes puts around its own SQL:
 * `with(more)` is its `WITH` clause (the writes' common table expressions and `more`, or nothing),
 * `returning` ends its `RETURNING` or `SELECT` list (`, ... AS outbox_delivered, ...`, or nothing).
 */
export interface Carried {
  readonly with: (more?: ReadonlyArray<Statement.Fragment>) => Statement.Fragment
  readonly returning: Statement.Fragment
}

/** Deferred writes taken for one statement, and what reads their outcome off its row. */
interface Pending {
  readonly ctes: ReadonlyArray<Statement.Fragment>
  readonly returning: Statement.Fragment
  readonly settle: (row: Readonly<Record<string, unknown>> | undefined) => Effect.Effect<void>
}

/** What receives the commands a committed transaction enqueued claimed: this instance's relay. */
export type Dispatcher = (messages: ReadonlyArray<OutboxMessage>) => Effect.Effect<void>

export class OutboxRepo extends Context.Service<
  OutboxRepo,
  {
    /**
     * Runs `self` in one transaction (a savepoint if one is open). If a relay is registered, the
     * commands it enqueues are claimed by this instance and handed to the relay once it commits.
     * Outbox writes are deferred to the transaction's next statement that carries them
     * ({@link carrying}) or to its end.
     */
    readonly transaction: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
    /**
     * Runs a statement that carries the outbox writes the current transaction deferred (none
     * outside a transaction), and records their outcome: its rows. Dies with {@link LeaseLost} if
     * a deferred finish found its row claimed again elsewhere.
     */
    readonly carrying: <A, E>(
      statement: (carried: Carried) => Effect.Effect<ReadonlyArray<A>, E>
    ) => Effect.Effect<ReadonlyArray<A>>
    /** Registers this instance's relay until the scope closes. */
    readonly register: (dispatcher: Dispatcher) => Effect.Effect<void, never, Scope.Scope>
    /**
     * Adds a pending command, due now: claimed for this instance's relay inside a
     * {@link transaction} (see above), else left for any relay and announced by NOTIFY.
     */
    readonly enqueue: (command: NewCommand) => Effect.Effect<void>
    /** Claims up to `limit` due rows, oldest first, each under a new lease; rows others hold are skipped. */
    readonly claim: (limit: number) => Effect.Effect<ReadonlyArray<OutboxMessage>>
    /**
     * Finishes a delivered row (`done`) with the current transaction's next outbox write; if the
     * row no longer carries the claim's token then, the transaction dies with {@link LeaseLost}.
     */
    readonly finishDelivered: (message: OutboxMessage) => Effect.Effect<void>
    /**
     * Finishes a claimed row that was not delivered: given up (`dead`), taken back
     * (`superseded`). False, and nothing changed, if the row no longer carries the claim's token.
     */
    readonly finish: (
      message: OutboxMessage,
      status: "dead" | "superseded",
      lastError: string | undefined
    ) => Effect.Effect<boolean>
    /** Extends a claimed row's lease to a full one from now; false if it no longer carries the token. */
    readonly renew: (message: OutboxMessage) => Effect.Effect<boolean>
    /** Makes a claimed row due again after `delayMillis`; false if it no longer carries the token. */
    readonly reschedule: (
      message: OutboxMessage,
      delayMillis: number,
      lastError: string
    ) => Effect.Effect<boolean>
    /**
     * Supersedes the saga's pending command if no relay holds a lease on it: the command that
     * was superseded, or none (there is none, or it is being delivered).
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
      const { lease } = yield* Settings.outbox
      const leaseEnd = sql`clock_timestamp() + make_interval(secs => ${Duration.toMillis(lease) / 1000})`
      // `attempts` counts claims; the handler sees the attempts made before this one.
      const returning = sql`
        id, saga_id, command, payload, secret, attempts - 1 AS attempts, retry_until_done,
        traceparent, claim_token::text
      `
      const messages = <E, R>(query: Effect.Effect<ReadonlyArray<unknown>, E, R>) =>
        query.pipe(
          Effect.flatMap(decodeMessages),
          Effect.map((rows) => rows.map(toMessage)),
          Effect.orDie
        )

      const values = (command: NewCommand) => sql`
        ${command.sagaId}::uuid, ${command.command}::text, ${json(command.payload)}::jsonb,
        ${json(command.secret)}::jsonb, ${command.retryUntilDone}::boolean, ${command.traceparent ?? null}::text
      `
      const fenced = (message: OutboxMessage) =>
        sql`id = ${message.id} AND claim_token = ${message.claimToken}::uuid`
      const finishing = (status: "done" | "dead" | "superseded", lastError: string | undefined) => sql`
        SET status = ${status}, finished_at = clock_timestamp(), secret = NULL,
            claim_token = NULL, claimed_until = NULL,
            last_error = COALESCE(${lastError === undefined ? null : truncate(lastError)}, last_error)
      `

      const nothingPending: Pending = { ctes: [], returning: sql``, settle: () => Effect.void }
      const withClause = (ctes: ReadonlyArray<Statement.Fragment>) =>
        ctes.length === 0 ? sql`` : sql`WITH ${sql.csv(ctes)}`

      /** Takes the transaction's deferred writes, as common table expressions for one statement. */
      const takePending = (tx: Tx): Pending => {
        const { delivered, commands } = tx
        if (delivered === undefined && commands.length === 0) return nothingPending
        tx.delivered = undefined
        tx.commands = []
        const ctes: Array<Statement.Fragment> = []
        const columns: Array<Statement.Fragment> = []
        if (delivered !== undefined) {
          ctes.push(sql`outbox_delivered AS (
            UPDATE outbox ${finishing("done", undefined)} WHERE ${fenced(delivered)} RETURNING id
          )`)
          columns.push(sql`, (SELECT count(*) FROM outbox_delivered)::int AS outbox_delivered`)
        }
        if (commands.length > 0) {
          // After the finish, which it reads: a saga's next command may only be pending once its
          // last one is not (`outbox_one_pending_per_saga`), and none is inserted if the lease was lost.
          const afterFinish =
            delivered === undefined ? sql`` : sql`WHERE EXISTS (SELECT 1 FROM outbox_delivered)`
          const rows = commands.map(
            (command) => sql`(${values(command)}, 1, gen_random_uuid(), ${leaseEnd}, ${leaseEnd})`
          )
          ctes.push(sql`outbox_enqueued AS (
            INSERT INTO outbox (
              saga_id, command, payload, secret, retry_until_done, traceparent,
              attempts, claim_token, claimed_until, next_attempt_at
            )
            SELECT * FROM (VALUES ${sql.csv(rows)}) AS command ${afterFinish}
            RETURNING ${returning}
          )`)
          columns.push(sql`, (SELECT json_agg(outbox_enqueued) FROM outbox_enqueued) AS outbox_enqueued`)
        }
        return {
          ctes,
          returning: sql.join(" ", false)(columns),
          settle: (row) =>
            Effect.gen(function* () {
              if (row === undefined)
                return yield* Effect.die(new Error("the statement carrying outbox writes returned no row"))
              if (delivered !== undefined && row["outbox_delivered"] !== 1) {
                return yield* Effect.die(new LeaseLost({ id: delivered.id }))
              }
              if (commands.length > 0) {
                const enqueued = yield* Effect.orDie(decodeJsonMessages(row["outbox_enqueued"]))
                tx.claimed.push(...(enqueued ?? []).map(toMessage))
              }
            })
        }
      }

      /** Writes what the transaction still defers, in one statement. */
      const flush = (tx: Tx) => {
        const pending = takePending(tx)
        if (pending === nothingPending) return Effect.void
        return sql`${withClause(pending.ctes)} SELECT 1 AS flushed ${pending.returning}`.pipe(
          Effect.orDie,
          Effect.flatMap((rows) => pending.settle(rows[0]))
        )
      }

      const dispatchers = new Set<Dispatcher>()

      const transaction = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
        Effect.flatMap(Effect.service(CurrentTx), (outer) => {
          const run = (inner: Effect.Effect<A, E, R>) =>
            sql.withTransaction(inner).pipe(Effect.catchTag("SqlError", Effect.die)) as Effect.Effect<A, E, R>
          if (outer !== undefined) {
            // A savepoint: what was deferred before it is written first; what it defers is
            // written before it is released, or dropped if it is rolled back.
            return Effect.andThen(
              flush(outer),
              Effect.suspend(() => {
                const claimed = outer.claimed.length
                return run(Effect.tap(self, () => flush(outer))).pipe(
                  Effect.onError(() =>
                    Effect.sync(() => {
                      outer.commands = []
                      outer.delivered = undefined
                      outer.claimed.length = claimed
                    })
                  )
                )
              })
            )
          }
          const tx: Tx = {
            dispatcher: dispatchers.values().next().value,
            commands: [],
            delivered: undefined,
            claimed: []
          }
          return run(
            Effect.provideService(
              Effect.tap(self, () => flush(tx)),
              CurrentTx,
              tx
            )
          ).pipe(
            Effect.tap(() =>
              tx.claimed.length === 0 || tx.dispatcher === undefined ? Effect.void : tx.dispatcher(tx.claimed)
            )
          )
        })

      const carrying = <A, E>(statement: (carried: Carried) => Effect.Effect<ReadonlyArray<A>, E>) =>
        Effect.flatMap(Effect.service(CurrentTx), (tx) => {
          const pending = tx === undefined ? nothingPending : takePending(tx)
          return statement({
            with: (more = []) => withClause([...pending.ctes, ...more]),
            returning: pending.returning
          }).pipe(
            Effect.orDie,
            Effect.tap((rows) => pending.settle(rows[0] as Readonly<Record<string, unknown>> | undefined))
          )
        })

      const finishDelivered = (message: OutboxMessage) =>
        Effect.flatMap(Effect.service(CurrentTx), (tx) => {
          if (tx === undefined) return Effect.die(new Error("finishDelivered outside OutboxRepo.transaction"))
          tx.delivered = message
          return Effect.void
        })

      const register = (dispatcher: Dispatcher) =>
        Effect.acquireRelease(
          Effect.sync(() => dispatchers.add(dispatcher)),
          () => Effect.sync(() => dispatchers.delete(dispatcher))
        ).pipe(Effect.asVoid)

      const enqueue = (command: NewCommand) =>
        Effect.flatMap(Effect.service(CurrentTx), (tx) => {
          if (tx?.dispatcher !== undefined) {
            tx.commands.push(command)
            return Effect.void
          }
          // After what the transaction deferred (a saga's last command must be finished first).
          return Effect.andThen(
            tx === undefined ? Effect.void : flush(tx),
            sql`
            INSERT INTO outbox (saga_id, command, payload, secret, retry_until_done, traceparent)
            VALUES (${values(command)})
          `.pipe(
              Effect.andThen(sql`SELECT pg_notify(${channel}, ${outboxPayload})`),
              Effect.asVoid,
              Effect.orDie
            )
          )
        })

      const claim = (limit: number) =>
        messages(sql`
          UPDATE outbox
          SET attempts = attempts + 1, claim_token = gen_random_uuid(),
              claimed_until = ${leaseEnd}, next_attempt_at = ${leaseEnd}
          WHERE id = ANY(ARRAY(
            SELECT id FROM outbox
            WHERE status = 'pending' AND next_attempt_at <= clock_timestamp()
            ORDER BY next_attempt_at
            LIMIT ${limit}
            FOR UPDATE SKIP LOCKED
          ))
          RETURNING ${returning}
        `)

      const finish = (message: OutboxMessage, status: "dead" | "superseded", lastError: string | undefined) =>
        sql`UPDATE outbox ${finishing(status, lastError)} WHERE ${fenced(message)} RETURNING id`.pipe(
          Effect.map((rows) => rows.length === 1),
          Effect.orDie
        )

      const renew = (message: OutboxMessage) =>
        sql`
          UPDATE outbox SET claimed_until = ${leaseEnd}, next_attempt_at = ${leaseEnd}
          WHERE ${fenced(message)}
          RETURNING id
        `.pipe(
          Effect.map((rows) => rows.length === 1),
          Effect.orDie
        )

      const reschedule = (message: OutboxMessage, delayMillis: number, lastError: string) =>
        sql`
          UPDATE outbox
          SET last_error = ${truncate(lastError)}, claim_token = NULL, claimed_until = NULL,
              next_attempt_at = clock_timestamp() + make_interval(secs => ${delayMillis / 1000})
          WHERE ${fenced(message)}
          RETURNING id
        `.pipe(
          Effect.map((rows) => rows.length === 1),
          Effect.orDie
        )

      const supersedePending = (sagaId: string) =>
        sql<{ command: string }>`
          UPDATE outbox
          SET status = 'superseded', finished_at = clock_timestamp(), secret = NULL,
              claim_token = NULL, claimed_until = NULL
          WHERE id = (
            SELECT id FROM outbox
            WHERE saga_id = ${sagaId} AND status = 'pending'
              AND (claimed_until IS NULL OR claimed_until <= clock_timestamp())
            FOR UPDATE SKIP LOCKED
          )
          RETURNING command
        `.pipe(
          Effect.map((rows) => (rows[0] === undefined ? Option.none() : Option.some(rows[0].command))),
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
        carrying,
        finishDelivered,
        register,
        enqueue,
        claim,
        finish,
        renew,
        reschedule,
        supersedePending,
        lag,
        purgeFinished
      })
    })
  )
}
