import { NumberFromInt8 } from "@acme/pool"
/**
 * SQL for reservations and the stock they hold. Every method that changes stock expects to run
 * inside `transaction`, and takes row locks on products in SKU order (`insert`,
 * `release`), so two transactions touching the same products always lock them in the same order
 * and cannot deadlock. Database and decode failures are defects here.
 */
import type { Reservation, ReservationItem } from "@acme/contracts/inventory"
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

/** A product locked by `insert`, or none (`sku` null) when no product matched. */
const InsertRow = Schema.Struct({
  inserted: Schema.Boolean,
  sku: Schema.NullOr(Sku),
  available: Schema.NullOr(Schema.Int),
  price_amount: Schema.NullOr(NumberFromInt8),
  currency: Schema.NullOr(Schema.String)
})

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

const decodeInsert = Schema.decodeUnknownEffect(Schema.Array(InsertRow))
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
     * Inserts a RESERVED reservation without items (`inserted` false if the id exists), and
     * locks the products among `skus` that exist, in SKU order, until the transaction ends. A
     * concurrent insert of the same id waits for the first transaction to end, so exactly one of
     * them inserts. One statement: reserving is the hot path of every order.
     */
    readonly insert: (
      id: OrderId,
      expiresAt: DateTime.Utc,
      skus: ReadonlyArray<Sku>
    ) => Effect.Effect<{ readonly inserted: boolean; readonly stock: ReadonlyArray<LockedStock> }>
    readonly find: (id: OrderId) => Effect.Effect<Option.Option<Reservation>>
    /** The reservation with its items, its row locked until the transaction ends. */
    readonly lock: (id: OrderId) => Effect.Effect<Option.Option<Reservation>>
    /**
     * Takes the items' quantities from stock (locked and checked by the caller) and adds them to
     * the reservation, in one statement.
     */
    readonly takeStock: (id: OrderId, items: ReadonlyArray<ReservationItem>) => Effect.Effect<void>
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

      // The products are read in a lateral subquery so that the row saying whether the
      // reservation was inserted comes back even when no SKU matches.
      const insert = (id: OrderId, expiresAt: DateTime.Utc, skus: ReadonlyArray<Sku>) =>
        sql`
          WITH inserted AS (
            INSERT INTO reservations (id, state, expires_at)
            VALUES (${id}, 'RESERVED', ${DateTime.toDateUtc(expiresAt)})
            ON CONFLICT (id) DO NOTHING
            RETURNING id
          )
          SELECT EXISTS (SELECT 1 FROM inserted) AS inserted, p.sku, p.available, p.price_amount, p.currency
          FROM (SELECT 1) AS one
          LEFT JOIN LATERAL (
            SELECT sku, available, price_amount, currency FROM products
            WHERE sku = ANY(${skus}::text[])
            ORDER BY sku
            FOR UPDATE
          ) AS p ON true
          ORDER BY p.sku
        `.pipe(
          Effect.flatMap(decodeInsert),
          Effect.map((rows) => ({
            inserted: rows[0]?.inserted ?? false,
            stock: rows.flatMap((row) =>
              row.sku === null
                ? []
                : [
                    {
                      sku: row.sku,
                      available: row.available!,
                      price: { amount: row.price_amount!, currency: row.currency! }
                    }
                  ]
            )
          })),
          Effect.orDie
        )

      const selectReservation = (id: OrderId, lock: boolean) =>
        sql`
          SELECT r.id, r.state, r.expires_at, i.sku, i.quantity, i.unit_price_amount, i.currency
          FROM reservations r JOIN reservation_items i ON i.reservation_id = r.id
          WHERE r.id = ${id}
          ORDER BY i.sku
          ${lock ? sql`FOR UPDATE OF r` : sql``}
        `.pipe(Effect.flatMap(decodeReservation), Effect.map(toReservation), Effect.orDie)

      const find = (id: OrderId) => selectReservation(id, false)
      const lock = (id: OrderId) => selectReservation(id, true)

      // The `available >= quantity` condition never fails after `insert` locked and the caller
      // checked; it keeps this statement safe on its own, and the CHECK stays the backstop.
      const takeStock = (id: OrderId, items: ReadonlyArray<ReservationItem>) =>
        sql<{ readonly taken: number }>`
          WITH items AS (
            SELECT * FROM unnest(
              ${items.map((i) => i.sku)}::text[],
              ${items.map((i) => i.quantity)}::int[],
              ${items.map((i) => i.unitPrice.amount)}::bigint[],
              ${items.map((i) => i.unitPrice.currency)}::text[]
            ) AS t (sku, quantity, unit_price_amount, currency)
          ),
          taken AS (
            UPDATE products p SET available = p.available - items.quantity, updated_at = now()
            FROM items
            WHERE p.sku = items.sku AND p.available >= items.quantity
            RETURNING p.sku
          ),
          added AS (
            INSERT INTO reservation_items (reservation_id, sku, quantity, unit_price_amount, currency)
            SELECT ${id}, sku, quantity, unit_price_amount, currency FROM items
            RETURNING sku
          )
          SELECT (SELECT count(*) FROM taken)::int AS taken
        `.pipe(
          Effect.orDie,
          Effect.flatMap(([row]) =>
            row?.taken === items.length
              ? Effect.void
              : Effect.die(new Error(`took stock for ${row?.taken} of ${items.length} items`))
          )
        )

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
        takeStock,
        markCommitted,
        release,
        returnStock,
        claimExpired
      })
    })
  )
}
