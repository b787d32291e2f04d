import {
  InvalidReservationState,
  MixedCurrencies,
  OutOfStock,
  ReservationMismatch,
  ReservationNotFound,
  UnknownProducts,
  AmountTooLarge
} from "@acme/contracts/inventory"
import { assert, describe, layer } from "@effect/vitest"
import { DateTime, Duration, Effect, Result } from "effect"
import { SqlClient } from "effect/sql"
import { Reservations } from "../src/Reservations/Reservations.ts"
import { eur, givenProduct, layerApp, newId, stockOf, uniqueSku } from "./support.ts"

describe("Reservations", () => {
  layer(layerApp(), { excludeTestServices: true })("on a database", (it) => {
    it.effect("reserves every item, with unit prices, total and expiry, and takes their stock", () =>
      Effect.gen(function* () {
        const reservations = yield* Reservations
        const bolt = yield* givenProduct(10, eur(250))
        const nut = yield* givenProduct(5, eur(40))
        const before = yield* DateTime.now
        const id = newId()
        const { reservation, created } = yield* reservations.create({
          reservationId: id,
          items: [
            { sku: nut, quantity: 3 },
            { sku: bolt, quantity: 2 }
          ]
        })
        assert.isTrue(created)
        assert.strictEqual(reservation.reservationId, id)
        assert.strictEqual(reservation.state, "RESERVED")
        assert.deepStrictEqual(
          reservation.items,
          [
            { sku: bolt, quantity: 2, unitPrice: eur(250) },
            { sku: nut, quantity: 3, unitPrice: eur(40) }
          ].sort((a, b) => (a.sku < b.sku ? -1 : 1))
        )
        assert.deepStrictEqual(reservation.total, eur(2 * 250 + 3 * 40))
        // The default TTL: 15 minutes from now.
        const ttl = Duration.toMillis(DateTime.distance(before, reservation.expiresAt))
        assert.isTrue(
          ttl >= Duration.toMillis(Duration.minutes(15)) && ttl < Duration.toMillis(Duration.minutes(16))
        )
        assert.strictEqual(yield* stockOf(bolt), 8)
        assert.strictEqual(yield* stockOf(nut), 2)
        assert.deepStrictEqual(yield* reservations.get(id), reservation)
      })
    )

    it.effect("reserves nothing when one item is short, and names every short SKU", () =>
      Effect.gen(function* () {
        const reservations = yield* Reservations
        const plenty = yield* givenProduct(100)
        const few = yield* givenProduct(2)
        const none = yield* givenProduct(0)
        const id = newId()
        const error = yield* Effect.flip(
          reservations.create({
            reservationId: id,
            items: [
              { sku: plenty, quantity: 5 },
              { sku: few, quantity: 3 },
              { sku: none, quantity: 1 }
            ]
          })
        )
        assert.instanceOf(error, OutOfStock)
        if (!(error instanceof OutOfStock)) return
        assert.sameDeepMembers(
          [...error.items],
          [
            { sku: few, requested: 3, available: 2 },
            { sku: none, requested: 1, available: 0 }
          ]
        )
        assert.strictEqual(yield* stockOf(plenty), 100)
        assert.strictEqual(yield* stockOf(few), 2)
        // Nothing was kept, not even the reservation id: once there is stock, the same id works.
        const notFound = yield* Effect.flip(reservations.get(id))
        assert.instanceOf(notFound, ReservationNotFound)
        const sql = yield* SqlClient.SqlClient
        yield* sql`UPDATE products SET available = 10 WHERE sku IN (${few}, ${none})`.pipe(Effect.orDie)
        const retried = yield* reservations.create({
          reservationId: id,
          items: [
            { sku: plenty, quantity: 5 },
            { sku: few, quantity: 3 },
            { sku: none, quantity: 1 }
          ]
        })
        assert.isTrue(retried.created)
        assert.strictEqual(yield* stockOf(plenty), 95)
      })
    )

    it.effect("an unknown SKU is a 422 naming it, and nothing is reserved", () =>
      Effect.gen(function* () {
        const reservations = yield* Reservations
        const known = yield* givenProduct(10)
        const unknown = uniqueSku("NOPE")
        const error = yield* Effect.flip(
          reservations.create({
            reservationId: newId(),
            items: [
              { sku: known, quantity: 1 },
              { sku: unknown, quantity: 1 }
            ]
          })
        )
        assert.instanceOf(error, UnknownProducts)
        if (error instanceof UnknownProducts) assert.deepStrictEqual(error.skus, [unknown])
        assert.strictEqual(error.status, 422)
        assert.strictEqual(yield* stockOf(known), 10)
      })
    )

    it.effect("items in different currencies have no total: 422", () =>
      Effect.gen(function* () {
        const reservations = yield* Reservations
        const euro = yield* givenProduct(10, eur(100))
        const dollar = yield* givenProduct(10, { amount: 100, currency: "USD" })
        const error = yield* Effect.flip(
          reservations.create({
            reservationId: newId(),
            items: [
              { sku: euro, quantity: 1 },
              { sku: dollar, quantity: 1 }
            ]
          })
        )
        assert.instanceOf(error, MixedCurrencies)
        assert.strictEqual(yield* stockOf(euro), 10)
      })
    )

    it.effect("a total beyond what money holds is a 422", () =>
      Effect.gen(function* () {
        const reservations = yield* Reservations
        const gold = yield* givenProduct(1000, eur(1_000_000_000_000))
        const error = yield* Effect.flip(
          reservations.create({ reservationId: newId(), items: [{ sku: gold, quantity: 2 }] })
        )
        assert.instanceOf(error, AmountTooLarge)
        assert.strictEqual(yield* stockOf(gold), 1000)
      })
    )

    it.effect("a repeated create with the same items answers the same reservation and takes stock once", () =>
      Effect.gen(function* () {
        const reservations = yield* Reservations
        const a = yield* givenProduct(10)
        const b = yield* givenProduct(10)
        const id = newId()
        const first = yield* reservations.create({
          reservationId: id,
          items: [
            { sku: a, quantity: 2 },
            { sku: b, quantity: 1 }
          ]
        })
        // Same items in another order are the same request.
        const again = yield* reservations.create({
          reservationId: id,
          items: [
            { sku: b, quantity: 1 },
            { sku: a, quantity: 2 }
          ]
        })
        assert.isTrue(first.created)
        assert.isFalse(again.created)
        assert.deepStrictEqual(again.reservation, first.reservation)
        assert.strictEqual(yield* stockOf(a), 8)
        assert.strictEqual(yield* stockOf(b), 9)
      })
    )

    it.effect("the same reservation id with other items is a 409", () =>
      Effect.gen(function* () {
        const reservations = yield* Reservations
        const sku = yield* givenProduct(10)
        const id = newId()
        yield* reservations.create({ reservationId: id, items: [{ sku, quantity: 2 }] })
        const error = yield* Effect.flip(
          reservations.create({ reservationId: id, items: [{ sku, quantity: 3 }] })
        )
        assert.instanceOf(error, ReservationMismatch)
        assert.strictEqual(error.status, 409)
        assert.strictEqual(yield* stockOf(sku), 8)
      })
    )

    it.effect("commit is final: a repeat answers it again, a release is a 409 naming the state", () =>
      Effect.gen(function* () {
        const reservations = yield* Reservations
        const sku = yield* givenProduct(10)
        const id = newId()
        yield* reservations.create({ reservationId: id, items: [{ sku, quantity: 4 }] })
        const committed = yield* reservations.commit(id)
        assert.strictEqual(committed.state, "COMMITTED")
        assert.deepStrictEqual(yield* reservations.commit(id), committed)
        const error = yield* Effect.flip(reservations.release(id))
        assert.instanceOf(error, InvalidReservationState)
        if (error instanceof InvalidReservationState) {
          assert.strictEqual(error.state, "COMMITTED")
          assert.strictEqual(error.action, "release")
        }
        // Committed stock is sold: it does not come back.
        assert.strictEqual(yield* stockOf(sku), 6)
      })
    )

    it.effect("release returns the stock once: a repeat answers it again, a commit is a 409", () =>
      Effect.gen(function* () {
        const reservations = yield* Reservations
        const sku = yield* givenProduct(10)
        const id = newId()
        yield* reservations.create({ reservationId: id, items: [{ sku, quantity: 4 }] })
        assert.strictEqual(yield* stockOf(sku), 6)
        const released = yield* reservations.release(id)
        assert.strictEqual(released.state, "RELEASED")
        assert.strictEqual(yield* stockOf(sku), 10)
        assert.deepStrictEqual(yield* reservations.release(id), released)
        assert.strictEqual(yield* stockOf(sku), 10)
        const error = yield* Effect.flip(reservations.commit(id))
        assert.instanceOf(error, InvalidReservationState)
        if (error instanceof InvalidReservationState) {
          assert.strictEqual(error.state, "RELEASED")
          assert.strictEqual(error.action, "commit")
        }
      })
    )

    it.effect("return gives a committed reservation's stock back once: a repeat answers it again", () =>
      Effect.gen(function* () {
        const reservations = yield* Reservations
        const sku = yield* givenProduct(10)
        const id = newId()
        yield* reservations.create({ reservationId: id, items: [{ sku, quantity: 4 }] })
        yield* reservations.commit(id)
        assert.strictEqual(yield* stockOf(sku), 6)
        const returned = yield* reservations.return(id)
        assert.strictEqual(returned.state, "RETURNED")
        assert.deepStrictEqual(returned.items, [{ sku, quantity: 4, unitPrice: eur(1000) }])
        assert.strictEqual(yield* stockOf(sku), 10)
        assert.deepStrictEqual(yield* reservations.return(id), returned)
        assert.strictEqual(yield* stockOf(sku), 10)
        // RETURNED is final: neither commit nor release applies any more.
        for (const [call, action] of [
          [reservations.commit(id), "commit"],
          [reservations.release(id), "release"]
        ] as const) {
          const error = yield* Effect.flip(call)
          assert.instanceOf(error, InvalidReservationState)
          if (error instanceof InvalidReservationState) {
            assert.strictEqual(error.state, "RETURNED")
            assert.strictEqual(error.action, action)
          }
        }
        assert.deepStrictEqual(yield* reservations.get(id), returned)
      })
    )

    it.effect("return is refused (409 naming the state) from RESERVED and RELEASED, stock untouched", () =>
      Effect.gen(function* () {
        const reservations = yield* Reservations
        const sku = yield* givenProduct(10)
        const reserved = newId()
        yield* reservations.create({ reservationId: reserved, items: [{ sku, quantity: 2 }] })
        const released = newId()
        yield* reservations.create({ reservationId: released, items: [{ sku, quantity: 3 }] })
        yield* reservations.release(released)
        assert.strictEqual(yield* stockOf(sku), 8)
        for (const [id, state] of [
          [reserved, "RESERVED"],
          [released, "RELEASED"]
        ] as const) {
          const error = yield* Effect.flip(reservations.return(id))
          assert.instanceOf(error, InvalidReservationState)
          if (error instanceof InvalidReservationState) {
            assert.strictEqual(error.state, state)
            assert.strictEqual(error.action, "return")
            assert.strictEqual(error.status, 409)
          }
          assert.strictEqual((yield* reservations.get(id)).state, state)
        }
        assert.strictEqual(yield* stockOf(sku), 8)
      })
    )

    it.effect("an unknown reservation id is a 404 for get, commit, release and return", () =>
      Effect.gen(function* () {
        const reservations = yield* Reservations
        const id = newId()
        for (const call of [
          reservations.get(id),
          reservations.commit(id),
          reservations.release(id),
          reservations.return(id)
        ]) {
          const error = yield* Effect.flip(call)
          assert.instanceOf(error, ReservationNotFound)
          if (error instanceof ReservationNotFound) assert.strictEqual(error.reservationId, id)
        }
      })
    )
  })

  layer(layerApp(), { excludeTestServices: true })("under concurrency", (it) => {
    it.effect(
      "50 concurrent reservations for 10 units: exactly 10 succeed, 40 are out of stock, none oversold",
      () =>
        Effect.gen(function* () {
          const reservations = yield* Reservations
          const sku = yield* givenProduct(10)
          const results = yield* Effect.all(
            Array.from({ length: 50 }, () =>
              Effect.result(reservations.create({ reservationId: newId(), items: [{ sku, quantity: 1 }] }))
            ),
            { concurrency: "unbounded" }
          )
          const reserved = results.filter(Result.isSuccess)
          const rejected = results.filter(Result.isFailure).map((r) => r.failure)
          assert.strictEqual(reserved.length, 10)
          assert.strictEqual(rejected.length, 40)
          for (const error of rejected) {
            assert.instanceOf(error, OutOfStock)
            assert.strictEqual(error.status, 409)
          }
          assert.strictEqual(yield* stockOf(sku), 0)
        })
    )

    it.effect("20 concurrent creates of one reservation id make one reservation and take stock once", () =>
      Effect.gen(function* () {
        const reservations = yield* Reservations
        const sku = yield* givenProduct(100)
        const id = newId()
        const results = yield* Effect.all(
          Array.from({ length: 20 }, () =>
            reservations.create({ reservationId: id, items: [{ sku, quantity: 3 }] })
          ),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(results.filter((r) => r.created).length, 1)
        for (const r of results) assert.deepStrictEqual(r.reservation, results[0].reservation)
        assert.strictEqual(yield* stockOf(sku), 97)
      })
    )

    it.effect("reservations listing the same products in opposite orders do not deadlock", () =>
      Effect.gen(function* () {
        const reservations = yield* Reservations
        const skus = [yield* givenProduct(1000), yield* givenProduct(1000), yield* givenProduct(1000)]
        const results = yield* Effect.all(
          Array.from({ length: 30 }, (_, i) => {
            const order = i % 2 === 0 ? skus : [...skus].reverse()
            return reservations.create({
              reservationId: newId(),
              items: order.map((sku) => ({ sku, quantity: 1 }))
            })
          }),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(results.length, 30)
        for (const sku of skus) assert.strictEqual(yield* stockOf(sku), 970)
      })
    )

    it.effect("20 concurrent returns of one committed reservation give its stock back exactly once", () =>
      Effect.gen(function* () {
        const reservations = yield* Reservations
        const a = yield* givenProduct(10)
        const b = yield* givenProduct(10)
        const id = newId()
        yield* reservations.create({
          reservationId: id,
          items: [
            { sku: a, quantity: 3 },
            { sku: b, quantity: 5 }
          ]
        })
        yield* reservations.commit(id)
        const results = yield* Effect.all(
          Array.from({ length: 20 }, () => reservations.return(id)),
          { concurrency: "unbounded" }
        )
        for (const r of results) assert.strictEqual(r.state, "RETURNED")
        assert.strictEqual(yield* stockOf(a), 10)
        assert.strictEqual(yield* stockOf(b), 10)
      })
    )

    it.effect("concurrent commits and releases of one reservation: one wins, stock moves once", () =>
      Effect.gen(function* () {
        const reservations = yield* Reservations
        const sku = yield* givenProduct(10)
        const id = newId()
        yield* reservations.create({ reservationId: id, items: [{ sku, quantity: 5 }] })
        const results = yield* Effect.all(
          Array.from({ length: 10 }, (_, i) =>
            Effect.result(i % 2 === 0 ? reservations.commit(id) : reservations.release(id))
          ),
          { concurrency: "unbounded" }
        )
        const final = yield* reservations.get(id)
        const winners = results.filter(Result.isSuccess).map((r) => r.success.state)
        // Everyone who succeeded saw the final state; everyone else was refused with it.
        for (const state of winners) assert.strictEqual(state, final.state)
        for (const r of results.filter(Result.isFailure)) {
          assert.instanceOf(r.failure, InvalidReservationState)
          if (r.failure instanceof InvalidReservationState) assert.strictEqual(r.failure.state, final.state)
        }
        assert.strictEqual(yield* stockOf(sku), final.state === "RELEASED" ? 10 : 5)
      })
    )
  })
})
