import { NumberFromInt8 } from "@acme/pool"
/**
 * SQL for reservations and the stock they hold. Every method that changes stock expects to run
 * inside `transaction`, and takes row locks on products in SKU order (`lockStock`,
 * `release`), so two transactions touching the same products always lock them in the same order
 * and cannot deadlock. Database and decode failures are defects here.
 */
import type { Reservation, ReservationItem, ReservationItemRequest } from "@acme/contracts/inventory"
import { ReservationState } from "@acme/contracts/inventory"
import { OrderId, Sku } from "@acme/contracts"
import { Array as Arr, Context, DateTime, Effect, Layer, Option, Schema } from "effect"
import { SqlClient, SqlError } from "effect/sql"

/** A product's stock and price, read under a row lock. */
export interface LockedStock {
  readonly sku: Sku
  readonly available: number
  readonly price: { readonly amount: number; readonly currency: string }
}

/** A reservation's state and expiry, read under a row lock. */
export interface LockedReservation {
  readonly state: ReservationState
  readonly expiresAt: DateTime.Utc
}

const StockRow = Schema.Struct({
  sku: Sku,
  available: Schema.Int,
  price_amount: NumberFromInt8,
  currency: Schema.String
})

const HeaderRow = Schema.Struct({ state: ReservationState, expires_at: Schema.DateTimeUtcFromDate })

/** One item of a reservation joined with its header. */
const ReservationRow = Schema.Struct({
  id: OrderId,
  state: ReservationState,
  expires_at: Schema.DateTimeUtcFromDate,
  sku: Sku,
  quantity: Schema.Int,
  unit_price_amount: NumberFromInt8,
  currency: Schema.String
})

const IdRow = Schema.Struct({ id: OrderId })

const decodeStock = Schema.decodeUnknownEffect(Schema.Array(StockRow))
const decodeHeader = Schema.decodeUnknownEffect(Schema.Array(HeaderRow))
const decodeReservation = Schema.decodeUnknownEffect(Schema.Array(ReservationRow))
const decodeIds = Schema.decodeUnknownEffect(Schema.Array(IdRow))

/** The rows of one reservation (items in SKU order) as a reservation; none for no rows. */
const toReservation = (rows: ReadonlyArray<typeof ReservationRow.Type>): Option.Option<Reservation> => {
  if (!Arr.isReadonlyArrayNonEmpty(rows)) return Option.none()
  const first = rows[0]
  return Option.some({
    reservationId: first.id,
    state: first.state,
    items: rows.map((row) => ({
      sku: row.sku,
      quantity: row.quantity,
      unitPrice: { amount: row.unit_price_amount, currency: row.currency }
    })),
    total: {
      amount: rows.reduce((sum, row) => sum + row.quantity * row.unit_price_amount, 0),
      currency: first.currency
    },
    expiresAt: first.expires_at
  })
}

export class ReservationsRepo extends Context.Service<
  ReservationsRepo,
  {
    /** Runs `self` in one transaction: committed if it succeeds, rolled back if it fails. */
    readonly transaction: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
    /**
     * Inserts a RESERVED reservation without items; false if the id exists. A concurrent insert
     * of the same id waits for the first transaction to end, so exactly one of them inserts.
     */
    readonly insert: (id: OrderId, expiresAt: DateTime.Utc) => Effect.Effect<boolean>
    readonly find: (id: OrderId) => Effect.Effect<Option.Option<Reservation>>
    /** The reservation's state, locked until the transaction ends. */
    readonly lock: (id: OrderId) => Effect.Effect<Option.Option<LockedReservation>>
    /** The products among `skus` that exist, locked in SKU order until the transaction ends. */
    readonly lockStock: (skus: ReadonlyArray<Sku>) => Effect.Effect<ReadonlyArray<LockedStock>>
    /** Takes the items' quantities from stock (locked and checked by the caller). */
    readonly takeStock: (items: ReadonlyArray<ReservationItemRequest>) => Effect.Effect<void>
    readonly insertItems: (id: OrderId, items: ReadonlyArray<ReservationItem>) => Effect.Effect<void>
    readonly markCommitted: (id: OrderId) => Effect.Effect<void>
    /** Returns the reservations' stock and marks them RELEASED (they must be RESERVED). */
    readonly release: (ids: ReadonlyArray<OrderId>) => Effect.Effect<void>
    /** Returns a committed reservation's stock and marks it RETURNED (it must be COMMITTED, locked). */
    readonly returnStock: (id: OrderId) => Effect.Effect<void>
    /**
     * Up to `limit` RESERVED reservations expired at `asOf`, locked; rows another transaction
     * holds are skipped, so several sweepers never claim the same reservation.
     */
    readonly claimExpired: (asOf: DateTime.Utc, limit: number) => Effect.Effect<ReadonlyArray<OrderId>>
  }
>()("inventory/ReservationsRepo") {
  static readonly layer = Layer.effect(
    ReservationsRepo,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient

      const transaction = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
        sql
          .withTransaction(self)
          .pipe(Effect.catchIf(SqlError.isSqlError, (error) => Effect.die(error))) as Effect.Effect<A, E, R>

      const insert = (id: OrderId, expiresAt: DateTime.Utc) =>
        sql`
          INSERT INTO reservations (id, state, expires_at)
          VALUES (${id}, 'RESERVED', ${DateTime.toDateUtc(expiresAt)})
          ON CONFLICT (id) DO NOTHING
          RETURNING id
        `.pipe(
          Effect.map((rows) => rows.length === 1),
          Effect.orDie
        )

      const find = (id: OrderId) =>
        sql`
          SELECT r.id, r.state, r.expires_at, i.sku, i.quantity, i.unit_price_amount, i.currency
          FROM reservations r JOIN reservation_items i ON i.reservation_id = r.id
          WHERE r.id = ${id}
          ORDER BY i.sku
        `.pipe(Effect.flatMap(decodeReservation), Effect.map(toReservation), Effect.orDie)

      const lock = (id: OrderId) =>
        sql`SELECT state, expires_at FROM reservations WHERE id = ${id} FOR UPDATE`.pipe(
          Effect.flatMap(decodeHeader),
          Effect.map((rows) =>
            Option.map(Arr.head(rows), (row) => ({ state: row.state, expiresAt: row.expires_at }))
          ),
          Effect.orDie
        )

      const lockStock = (skus: ReadonlyArray<Sku>) =>
        sql`
          SELECT sku, available, price_amount, currency FROM products
          WHERE sku = ANY(${skus}::text[])
          ORDER BY sku
          FOR UPDATE
        `.pipe(
          Effect.flatMap(decodeStock),
          Effect.map((rows) =>
            rows.map((row) => ({
              sku: row.sku,
              available: row.available,
              price: { amount: row.price_amount, currency: row.currency }
            }))
          ),
          Effect.orDie
        )

      // The `available >= quantity` condition never fails after `lockStock` checked under the
      // same locks; it keeps this statement safe on its own, and the CHECK stays the backstop.
      const takeStock = (items: ReadonlyArray<ReservationItemRequest>) =>
        sql`
          UPDATE products p SET available = p.available - t.quantity, updated_at = now()
          FROM unnest(${items.map((i) => i.sku)}::text[], ${items.map((i) => i.quantity)}::int[])
            AS t (sku, quantity)
          WHERE p.sku = t.sku AND p.available >= t.quantity
          RETURNING p.sku
        `.pipe(
          Effect.orDie,
          Effect.flatMap((rows) =>
            rows.length === items.length
              ? Effect.void
              : Effect.die(new Error(`took stock for ${rows.length} of ${items.length} items`))
          )
        )

      const insertItems = (id: OrderId, items: ReadonlyArray<ReservationItem>) =>
        Arr.isReadonlyArrayNonEmpty(items)
          ? sql`
              INSERT INTO reservation_items ${sql.insert(
                Arr.map(items, (item) => ({
                  reservation_id: id,
                  sku: item.sku,
                  quantity: item.quantity,
                  unit_price_amount: item.unitPrice.amount,
                  currency: item.unitPrice.currency
                }))
              )}
            `.pipe(Effect.asVoid, Effect.orDie)
          : Effect.void

      const markCommitted = (id: OrderId) =>
        sql`UPDATE reservations SET state = 'COMMITTED', updated_at = now() WHERE id = ${id}`.pipe(
          Effect.asVoid,
          Effect.orDie
        )

      /** Puts the reservations' quantities back into stock and moves them to `state`. */
      const restock = (ids: ReadonlyArray<OrderId>, state: "RELEASED" | "RETURNED") =>
        Effect.gen(function* () {
          if (ids.length === 0) return
          // Lock first, in SKU order: the UPDATE below would lock in whatever order its join runs.
          yield* sql`
            SELECT p.sku FROM products p
            WHERE p.sku IN (SELECT sku FROM reservation_items WHERE reservation_id = ANY(${ids}::uuid[]))
            ORDER BY p.sku
            FOR UPDATE OF p
          `
          yield* sql`
            UPDATE products p SET available = p.available + t.quantity, updated_at = now()
            FROM (
              SELECT sku, sum(quantity)::int AS quantity FROM reservation_items
              WHERE reservation_id = ANY(${ids}::uuid[])
              GROUP BY sku
            ) t
            WHERE p.sku = t.sku
          `
          yield* sql`
            UPDATE reservations SET state = ${state}, updated_at = now()
            WHERE id = ANY(${ids}::uuid[])
          `
        }).pipe(Effect.orDie)

      const release = (ids: ReadonlyArray<OrderId>) => restock(ids, "RELEASED")
      const returnStock = (id: OrderId) => restock([id], "RETURNED")

      const claimExpired = (asOf: DateTime.Utc, limit: number) =>
        sql`
          SELECT id FROM reservations
          WHERE state = 'RESERVED' AND expires_at <= ${DateTime.toDateUtc(asOf)}
          ORDER BY expires_at
          LIMIT ${limit}
          FOR UPDATE SKIP LOCKED
        `.pipe(
          Effect.flatMap(decodeIds),
          Effect.map((rows) => rows.map((row) => row.id)),
          Effect.orDie
        )

      return ReservationsRepo.of({
        transaction,
        insert,
        find,
        lock,
        lockStock,
        takeStock,
        insertItems,
        markCommitted,
        release,
        returnStock,
        claimExpired
      })
    })
  )
}
