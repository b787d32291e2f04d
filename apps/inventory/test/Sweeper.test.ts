import { InvalidReservationState } from "@acme/contracts/inventory"
import { assert, describe, layer } from "@effect/vitest"
import { DateTime, Duration, Effect, Schedule } from "effect"
import { Reservations } from "../src/Reservations/Reservations.ts"
import { Sweeper } from "../src/Reservations/Sweeper.ts"
import { givenProduct, layerApp, newId, stockOf } from "./support.ts"

describe("Sweeper", () => {
  // The default TTL (15 minutes); the sweep step is called with the instant to sweep as of.
  layer(layerApp({ RESERVATION_SWEEP_BATCH: "2" }), { excludeTestServices: true })("sweep step", (it) => {
    it.effect("releases a reservation not committed within the TTL, and returns its stock once", () =>
      Effect.gen(function* () {
        const reservations = yield* Reservations
        const sweeper = yield* Sweeper
        const sku = yield* givenProduct(10)
        const { reservation } = yield* reservations.create({
          reservationId: newId(),
          items: [{ sku, quantity: 4 }]
        })
        const id = reservation.reservationId

        // Before the TTL is up: nothing to release.
        assert.notInclude(yield* sweeper.sweep(DateTime.subtract(reservation.expiresAt, { seconds: 1 })), id)
        assert.strictEqual(yield* stockOf(sku), 6)

        assert.include(yield* sweeper.sweep(reservation.expiresAt), id)
        assert.strictEqual((yield* reservations.get(id)).state, "RELEASED")
        assert.strictEqual(yield* stockOf(sku), 10)

        // A second sweep finds it released already: the stock is not returned twice.
        assert.notInclude(yield* sweeper.sweep(DateTime.add(reservation.expiresAt, { hours: 1 })), id)
        assert.strictEqual(yield* stockOf(sku), 10)
      })
    )

    it.effect("never releases a committed reservation", () =>
      Effect.gen(function* () {
        const reservations = yield* Reservations
        const sweeper = yield* Sweeper
        const sku = yield* givenProduct(10)
        const { reservation } = yield* reservations.create({
          reservationId: newId(),
          items: [{ sku, quantity: 4 }]
        })
        yield* reservations.commit(reservation.reservationId)
        yield* sweeper.sweep(DateTime.add(reservation.expiresAt, { hours: 1 }))
        assert.strictEqual((yield* reservations.get(reservation.reservationId)).state, "COMMITTED")
        assert.strictEqual(yield* stockOf(sku), 6)
      })
    )

    it.effect("sweepers running at once (several replicas) release each reservation exactly once", () =>
      Effect.gen(function* () {
        const reservations = yield* Reservations
        const sweeper = yield* Sweeper
        const sku = yield* givenProduct(100)
        const created = yield* Effect.all(
          Array.from({ length: 9 }, () =>
            reservations.create({ reservationId: newId(), items: [{ sku, quantity: 5 }] })
          )
        )
        assert.strictEqual(yield* stockOf(sku), 55)
        const asOf = DateTime.add(created[8].reservation.expiresAt, { seconds: 1 })
        // Batches of 2 (RESERVATION_SWEEP_BATCH): each sweeper claims several batches in turn.
        const released = (yield* Effect.all(
          Array.from({ length: 4 }, () => sweeper.sweep(asOf)),
          { concurrency: "unbounded" }
        )).flat()
        const ids = created.map((c) => c.reservation.reservationId)
        const mine = released.filter((id) => ids.includes(id))
        assert.sameMembers(mine, ids)
        assert.strictEqual(new Set(mine).size, mine.length)
        assert.strictEqual(yield* stockOf(sku), 100)
      })
    )
  })

  // A short TTL and interval, so the background loop gets to run within the test.
  layer(layerApp({ RESERVATION_TTL: "300 millis", RESERVATION_SWEEP_INTERVAL: "50 millis" }), {
    excludeTestServices: true
  })("with a short TTL", (it) => {
    it.effect("the background sweeper releases an expired reservation by itself", () =>
      Effect.gen(function* () {
        const reservations = yield* Reservations
        const sku = yield* givenProduct(10)
        const { reservation } = yield* reservations.create({
          reservationId: newId(),
          items: [{ sku, quantity: 3 }]
        })
        assert.strictEqual(yield* stockOf(sku), 7)
        const state = yield* reservations.get(reservation.reservationId).pipe(
          Effect.map((r) => r.state),
          Effect.repeat({ schedule: Schedule.spaced("50 millis"), until: (s) => s === "RELEASED" }),
          Effect.timeout(Duration.seconds(5))
        )
        assert.strictEqual(state, "RELEASED")
        assert.strictEqual(yield* stockOf(sku), 10)
      })
    )
  })

  // A short TTL, and a sweeper that will not run again during the test.
  layer(layerApp({ RESERVATION_TTL: "100 millis", RESERVATION_SWEEP_INTERVAL: "1 hour" }), {
    excludeTestServices: true
  })("with a short TTL and no sweep", (it) => {
    it.effect(
      "a commit after expiry, before any sweep, is refused with the state RELEASED and returns the stock",
      () =>
        Effect.gen(function* () {
          const reservations = yield* Reservations
          const sku = yield* givenProduct(10)
          const { reservation } = yield* reservations.create({
            reservationId: newId(),
            items: [{ sku, quantity: 3 }]
          })
          yield* Effect.sleep(Duration.millis(DateTime.toEpochMillis(reservation.expiresAt) - Date.now() + 5))
          const error = yield* Effect.flip(reservations.commit(reservation.reservationId))
          assert.instanceOf(error, InvalidReservationState)
          if (error instanceof InvalidReservationState) assert.strictEqual(error.state, "RELEASED")
          assert.strictEqual(yield* stockOf(sku), 10)
        })
    )
  })
})
