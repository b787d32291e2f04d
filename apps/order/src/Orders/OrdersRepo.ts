import { NumberFromInt8 } from "@acme/pool"
/**
 * SQL for orders. Lines are kept as JSON in their wire shape (`unitPrice` once priced); the saga
 * state as JSON of `SagaState`. Every time is the database's (`clock_timestamp()`), shared by all
 * replicas: the cancellation window and the saga duration are measured on it. Database and
 * decode failures are defects here.
 */
import type { Money } from "@acme/contracts"
import { OrderId } from "@acme/contracts"
import type { Order } from "@acme/contracts/order"
import { CustomerId, OrderLine, OrderReason, OrderStatus } from "@acme/contracts/order"
import { Context, DateTime, Effect, Layer, Option, Schema } from "effect"
import { SqlClient } from "effect/sql"
import type { Statement } from "effect/sql"
import { channel, orderPayload } from "../Notifications/Notifications.ts"
import { OutboxRepo } from "../Outbox/OutboxRepo.ts"
import { SagaState } from "../Saga/Saga.ts"

/** An order as stored. */
export interface OrderRecord {
  readonly id: OrderId
  readonly seq: number
  readonly customerId: CustomerId
  readonly status: OrderStatus
  readonly reason: OrderReason | undefined
  readonly declineReason: string | undefined
  readonly items: ReadonlyArray<OrderLine>
  readonly total: Money | undefined
  readonly paymentToken: string | undefined
  readonly saga: SagaState
  readonly createdAt: Date
  readonly updatedAt: Date
  readonly confirmedAt: Date | undefined
}
type OrderLine = typeof OrderLine.Type

/** An order as read under its row lock, with the database's time of reading. */
export interface LockedOrder extends OrderRecord {
  readonly now: DateTime.Utc
}

/** What a saga step changes in an order. */
export interface OrderPatch {
  readonly saga: SagaState
  readonly status: OrderStatus
  readonly reason?: OrderReason | undefined
  readonly declineReason?: string | undefined
  /** The priced lines and total, once reserved. */
  readonly priced?: { readonly items: ReadonlyArray<OrderLine>; readonly total: Money } | undefined
  readonly clearPaymentToken?: boolean
  readonly confirmed?: boolean
  /** The saga ended: announced at commit (`pg_notify`), to the requests waiting for it on any replica. */
  readonly finished?: boolean
}

const Row = Schema.Struct({
  id: OrderId,
  seq: NumberFromInt8,
  customer_id: CustomerId,
  status: OrderStatus,
  reason: Schema.NullOr(OrderReason),
  decline_reason: Schema.NullOr(Schema.String),
  items: Schema.Array(OrderLine),
  total_amount: Schema.NullOr(NumberFromInt8),
  currency: Schema.NullOr(Schema.String),
  payment_token: Schema.NullOr(Schema.String),
  saga: SagaState,
  created_at: Schema.Date,
  updated_at: Schema.Date,
  confirmed_at: Schema.NullOr(Schema.Date)
})
type Row = typeof Row.Type

const LockedRow = Schema.Struct({ ...Row.fields, now: Schema.Date })

const decodeRows = Schema.decodeUnknownEffect(Schema.Array(Row))
const decodeLocked = Schema.decodeUnknownEffect(Schema.Array(LockedRow))

const toRecord = (row: Row): OrderRecord => ({
  id: row.id,
  seq: row.seq,
  customerId: row.customer_id,
  status: row.status,
  reason: row.reason ?? undefined,
  declineReason: row.decline_reason ?? undefined,
  items: row.items,
  total:
    row.total_amount === null || row.currency === null
      ? undefined
      : { amount: row.total_amount, currency: row.currency },
  paymentToken: row.payment_token ?? undefined,
  saga: row.saga,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  confirmedAt: row.confirmed_at ?? undefined
})

/** The wire shape of an order. */
export const toOrder = (record: OrderRecord): Order => ({
  id: record.id,
  customerId: record.customerId,
  status: record.status,
  ...(record.reason === undefined ? {} : { reason: record.reason }),
  ...(record.declineReason === undefined ? {} : { declineReason: record.declineReason }),
  items: record.items,
  ...(record.total === undefined ? {} : { total: record.total }),
  createdAt: record.createdAt.toISOString(),
  updatedAt: record.updatedAt.toISOString()
})

const columns = `id, seq, customer_id, status, reason, decline_reason, items, total_amount, currency,
  payment_token, saga, created_at, updated_at, confirmed_at`

export class OrdersRepo extends Context.Service<
  OrdersRepo,
  {
    readonly insert: (order: {
      readonly id: OrderId
      readonly customerId: CustomerId
      readonly items: ReadonlyArray<OrderLine>
      readonly paymentToken: string
      readonly saga: SagaState
    }) => Effect.Effect<void>
    readonly find: (id: OrderId) => Effect.Effect<Option.Option<OrderRecord>>
    readonly findForCustomer: (
      customerId: CustomerId,
      id: OrderId
    ) => Effect.Effect<Option.Option<OrderRecord>>
    /** A customer's orders, newest first, those older than `beforeSeq` when given. */
    readonly list: (
      customerId: CustomerId,
      beforeSeq: number | undefined,
      limit: number
    ) => Effect.Effect<ReadonlyArray<OrderRecord>>
    /** The order, locked until the transaction ends, with the database's time. */
    readonly lock: (id: OrderId, customerId?: CustomerId) => Effect.Effect<Option.Option<LockedOrder>>
    /**
     * Writes a saga step's changes; the order after them, and its age in seconds. `ctes`: more
     * writes for the same statement to carry (the saga's event).
     */
    readonly update: (
      id: OrderId,
      patch: OrderPatch,
      ctes?: ReadonlyArray<Statement.Fragment>
    ) => Effect.Effect<{ readonly order: OrderRecord; readonly ageSeconds: number }>
  }
>()("order/OrdersRepo") {
  static readonly layer = Layer.effect(
    OrdersRepo,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const outbox = yield* OutboxRepo
      const selected = sql.literal(columns)

      // The order's statements carry the outbox writes their transaction deferred
      // (`OutboxRepo.carrying`): the delivered row's end with the lock (so a lost lease stops the
      // record before it does anything), the saga's next command with the write.
      const insert = (order: {
        readonly id: OrderId
        readonly customerId: CustomerId
        readonly items: ReadonlyArray<OrderLine>
        readonly paymentToken: string
        readonly saga: SagaState
      }) =>
        outbox
          .carrying(
            (carried) => sql`
              ${carried.with()}
              INSERT INTO orders (id, customer_id, status, items, payment_token, saga)
              VALUES (
                ${order.id}, ${order.customerId}, 'PENDING', ${JSON.stringify(order.items)}::jsonb,
                ${order.paymentToken}, ${JSON.stringify(order.saga)}::jsonb
              )
              RETURNING id ${carried.returning}
            `
          )
          .pipe(Effect.asVoid)

      const one = (rows: ReadonlyArray<Row>) => Option.map(Option.fromNullishOr(rows[0]), toRecord)

      const find = (id: OrderId) =>
        sql`SELECT ${selected} FROM orders WHERE id = ${id}`.pipe(
          Effect.flatMap(decodeRows),
          Effect.map(one),
          Effect.orDie
        )

      const findForCustomer = (customerId: CustomerId, id: OrderId) =>
        sql`SELECT ${selected} FROM orders WHERE id = ${id} AND customer_id = ${customerId}`.pipe(
          Effect.flatMap(decodeRows),
          Effect.map(one),
          Effect.orDie
        )

      const list = (customerId: CustomerId, beforeSeq: number | undefined, limit: number) =>
        sql`
          SELECT ${selected} FROM orders
          WHERE customer_id = ${customerId} ${beforeSeq === undefined ? sql`` : sql`AND seq < ${beforeSeq}`}
          ORDER BY seq DESC
          LIMIT ${limit}
        `.pipe(
          Effect.flatMap(decodeRows),
          Effect.map((rows) => rows.map(toRecord)),
          Effect.orDie
        )

      const lock = (id: OrderId, customerId?: CustomerId) =>
        outbox
          .carrying(
            (carried) => sql`
              ${carried.with()}
              SELECT ${selected}, clock_timestamp() AS now ${carried.returning} FROM orders
              WHERE id = ${id} ${customerId === undefined ? sql`` : sql`AND customer_id = ${customerId}`}
              FOR UPDATE
            `
          )
          .pipe(
            Effect.flatMap(decodeLocked),
            Effect.map((rows) =>
              Option.map(Option.fromNullishOr(rows[0]), (row): LockedOrder => ({
                ...toRecord(row),
                now: DateTime.fromDateUnsafe(row.now)
              }))
            ),
            Effect.orDie
          )

      const update = (id: OrderId, patch: OrderPatch, ctes: ReadonlyArray<Statement.Fragment> = []) =>
        outbox
          .carrying(
            (carried) => sql`
              ${carried.with(ctes)}
              UPDATE orders SET
                saga = ${JSON.stringify(patch.saga)}::jsonb,
                status = ${patch.status},
                reason = ${patch.reason ?? null},
                decline_reason = ${patch.declineReason ?? null},
                items = COALESCE(${patch.priced === undefined ? null : JSON.stringify(patch.priced.items)}::jsonb, items),
                total_amount = COALESCE(${patch.priced?.total.amount ?? null}::bigint, total_amount),
                currency = COALESCE(${patch.priced?.total.currency ?? null}::text, currency),
                payment_token = CASE WHEN ${patch.clearPaymentToken === true} THEN NULL ELSE payment_token END,
                confirmed_at = CASE WHEN ${patch.confirmed === true} THEN clock_timestamp() ELSE confirmed_at END,
                updated_at = clock_timestamp()
              WHERE id = ${id}
              RETURNING ${selected}, extract(epoch FROM clock_timestamp() - created_at)::float8 AS age_seconds
                ${patch.finished === true ? sql`, pg_notify(${channel}, ${orderPayload(id)}) AS notified` : sql``}
                ${carried.returning}
            `
          )
          .pipe(
            Effect.flatMap((rows) =>
              Effect.map(decodeRows(rows), (decoded) => ({
                order: toRecord(decoded[0]),
                ageSeconds: Number((rows[0] as { age_seconds?: unknown }).age_seconds ?? 0)
              }))
            ),
            Effect.orDie
          )

      return OrdersRepo.of({ insert, find, findForCustomer, list, lock, update })
    })
  )
}
