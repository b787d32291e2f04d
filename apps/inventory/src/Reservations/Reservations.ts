/**
 * Reservations hold stock for an order until it is committed (sold) or released (returned).
 *
 * - Reserving is all or nothing: in one transaction the reservation id is claimed, the products
 *   are locked in SKU order and checked, and only then is stock taken. Nothing is written when
 *   an item is unknown or short.
 * - The reservation id is the order id, so every call is idempotent: a repeated create with the
 *   same items answers the existing reservation, a repeated commit or release answers the
 *   reservation as it is. Concurrent creates of one id serialize on its primary key.
 * - RESERVED -> COMMITTED | RELEASED, COMMITTED -> RETURNED. A reservation still RESERVED at
 *   `expiresAt` is released (by the sweeper, or by the commit that comes too late). A return
 *   gives a committed reservation's stock back (the order was cancelled after it was sold).
 */
import type {
  CreateReservation,
  Reservation,
  ReservationItemRequest,
  ReservationState
} from "@acme/contracts/inventory"
import {
  AmountTooLarge,
  InvalidReservationState,
  MixedCurrencies,
  OutOfStock,
  ReservationMismatch,
  ReservationNotFound,
  UnknownProducts
} from "@acme/contracts/inventory"
import type { OrderId } from "@acme/contracts"
import { MinorUnits } from "@acme/contracts"
import { Context, DateTime, Effect, Layer, Option, Schema } from "effect"
import { reservationTtl } from "../Settings.ts"
import { ReservationsRepo } from "./ReservationsRepo.ts"

type Action = "commit" | "release" | "return"

/** The state each action moves a reservation from, and to. */
const transitions: Record<Action, { readonly from: ReservationState; readonly to: ReservationState }> = {
  commit: { from: "RESERVED", to: "COMMITTED" },
  release: { from: "RESERVED", to: "RELEASED" },
  return: { from: "COMMITTED", to: "RETURNED" }
}

/**
 * What an action does in a state: apply it, answer the reservation as it is (it is already where
 * the action leads), or refuse.
 */
export const decide = (state: ReservationState, action: Action): "apply" | "repeat" | "refuse" =>
  state === transitions[action].to ? "repeat" : state === transitions[action].from ? "apply" : "refuse"

const participle: Record<Action, string> = { commit: "committed", release: "released", return: "returned" }

const bySku = (a: { readonly sku: string }, b: { readonly sku: string }) =>
  a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0

const sameItems = (reservation: Reservation, items: ReadonlyArray<ReservationItemRequest>) =>
  reservation.items.length === items.length &&
  reservation.items.every((item, i) => item.sku === items[i].sku && item.quantity === items[i].quantity)

const isMinorUnits = Schema.is(MinorUnits)

export type CreateError =
  OutOfStock | ReservationMismatch | UnknownProducts | MixedCurrencies | AmountTooLarge

export class Reservations extends Context.Service<
  Reservations,
  {
    /** Reserves all items or none; `created` is false when this repeats an earlier create. */
    readonly create: (
      request: CreateReservation
    ) => Effect.Effect<{ readonly reservation: Reservation; readonly created: boolean }, CreateError>
    readonly get: (id: OrderId) => Effect.Effect<Reservation, ReservationNotFound>
    readonly commit: (
      id: OrderId
    ) => Effect.Effect<Reservation, ReservationNotFound | InvalidReservationState>
    readonly release: (
      id: OrderId
    ) => Effect.Effect<Reservation, ReservationNotFound | InvalidReservationState>
    /** Gives a committed reservation's stock back (RETURNED); a repeat answers it again. */
    readonly return: (
      id: OrderId
    ) => Effect.Effect<Reservation, ReservationNotFound | InvalidReservationState>
  }
>()("inventory/Reservations") {
  static readonly layer = Layer.effect(
    Reservations,
    Effect.gen(function* () {
      const repo = yield* ReservationsRepo
      const ttl = yield* reservationTtl

      const notFound = (id: OrderId) =>
        new ReservationNotFound({ reservationId: id, detail: `No reservation ${id}` })

      /** The reservation, which the caller knows exists (it holds its lock or just wrote it). */
      const load = (id: OrderId) =>
        Effect.flatMap(repo.find(id), (found) =>
          Option.isSome(found)
            ? Effect.succeed(found.value)
            : Effect.die(new Error(`reservation ${id} vanished inside its transaction`))
        )

      const create = Effect.fn("Reservations.create")(function* (request: CreateReservation) {
        const id = request.reservationId
        const items = [...request.items].sort(bySku)
        const expiresAt = DateTime.addDuration(yield* DateTime.now, ttl)
        return yield* repo.transaction(
          Effect.gen(function* () {
            const { inserted, stock: locked } = yield* repo.insert(
              id,
              expiresAt,
              items.map((i) => i.sku)
            )
            if (!inserted) {
              const existing = yield* load(id)
              if (!sameItems(existing, items)) {
                return yield* new ReservationMismatch({
                  reservationId: id,
                  detail: `Reservation ${id} exists with other items`
                })
              }
              return { reservation: existing, created: false }
            }

            const stock = new Map(locked.map((s) => [s.sku, s]))
            const unknown = items.filter((i) => !stock.has(i.sku)).map((i) => i.sku)
            if (unknown.length > 0) {
              return yield* new UnknownProducts({
                skus: unknown,
                detail: `No product with SKU ${unknown.join(", ")}`
              })
            }
            const priced = items.map((i) => ({ ...i, unitPrice: stock.get(i.sku)!.price }))
            const currency = priced[0].unitPrice.currency
            if (priced.some((i) => i.unitPrice.currency !== currency)) {
              const listed = priced.map((i) => ({ sku: i.sku, currency: i.unitPrice.currency }))
              return yield* new MixedCurrencies({
                items: listed,
                detail: `Items are priced in ${[...new Set(listed.map((i) => i.currency))].join(" and ")}`
              })
            }
            const short = items.flatMap((i) => {
              const available = stock.get(i.sku)!.available
              return available < i.quantity ? [{ sku: i.sku, requested: i.quantity, available }] : []
            })
            if (short.length > 0) {
              return yield* new OutOfStock({
                items: short,
                detail: `Not enough stock: ${short
                  .map((s) => `${s.sku} (requested ${s.requested}, available ${s.available})`)
                  .join(", ")}`
              })
            }
            const total = priced.reduce((sum, i) => sum + i.quantity * i.unitPrice.amount, 0)
            if (!isMinorUnits(total)) {
              return yield* new AmountTooLarge({ currency, detail: "The total exceeds 10^12 minor units" })
            }

            yield* repo.takeStock(id, priced)
            const reservation: Reservation = {
              reservationId: id,
              state: "RESERVED",
              items: priced,
              total: { amount: total, currency },
              expiresAt
            }
            return { reservation, created: true }
          })
        )
      })

      const get = Effect.fn("Reservations.get")(function* (id: OrderId) {
        const found = yield* repo.find(id)
        if (Option.isNone(found)) return yield* notFound(id)
        return found.value
      })

      /** Commit, release or return: the state machine under the reservation's row lock. */
      const transition = (id: OrderId, action: Action) =>
        Effect.gen(function* () {
          const now = yield* DateTime.now
          const outcome = yield* repo.transaction(
            Effect.gen(function* () {
              const locked = yield* repo.lock(id)
              if (Option.isNone(locked)) return yield* notFound(id)
              const { state, expiresAt } = locked.value
              const refuse = (current: ReservationState, why: string) =>
                new InvalidReservationState({
                  reservationId: id,
                  state: current,
                  action,
                  detail: `Reservation ${id} is ${current}${why}; it cannot be ${participle[action]}`
                })
              switch (decide(state, action)) {
                case "refuse":
                  return yield* refuse(state, "")
                case "repeat":
                  return { _tag: "Done" as const, reservation: locked.value }
                case "apply":
                  if (action === "release") {
                    yield* repo.release([id])
                  } else if (action === "return") {
                    yield* repo.returnStock(id)
                  } else if (DateTime.isLessThanOrEqualTo(expiresAt, now)) {
                    // Too late: release it now, so the answer does not depend on whether the
                    // sweeper got there first. The release commits; the caller gets the refusal.
                    yield* repo.release([id])
                    return {
                      _tag: "Expired" as const,
                      error: refuse("RELEASED", ` (expired at ${DateTime.formatIso(expiresAt)})`)
                    }
                  } else {
                    yield* repo.markCommitted(id)
                  }
              }
              // Under the row lock nothing else moved it: it is where the action leads.
              return {
                _tag: "Done" as const,
                reservation: { ...locked.value, state: transitions[action].to }
              }
            })
          )
          if (outcome._tag === "Expired") return yield* outcome.error
          return outcome.reservation
        })

      const commit = Effect.fn("Reservations.commit")((id: OrderId) => transition(id, "commit"))
      const release = Effect.fn("Reservations.release")((id: OrderId) => transition(id, "release"))
      const return_ = Effect.fn("Reservations.return")((id: OrderId) => transition(id, "return"))

      return Reservations.of({ create, get, commit, release, return: return_ })
    })
  ).pipe(Layer.provide(ReservationsRepo.layer))
}
