/**
 * The payments feature against a real PostgreSQL: idempotency, the state machine, concurrent
 * duplicates and recovery from an abandoned operation. Real time (the database is real too);
 * the simulated processor has no latency unless a test gives it some.
 */
import {
  InvalidPaymentState,
  PaymentDeclined,
  PaymentInProgress,
  PaymentMismatch,
  PaymentNotFound,
  ProcessorUnavailable
} from "@acme/contracts/payment"
import { assert, describe, layer } from "@effect/vitest"
import { Duration, Effect, Option } from "effect"
import { hashToken, Payments } from "../src/Payments/Payments.ts"
import { PaymentsRepo } from "../src/Payments/PaymentsRepo.ts"
import { appLayer, calls, newId, request, simulate } from "./fixtures.ts"

describe("Payments", () => {
  layer(appLayer({ env: { IN_FLIGHT_WAIT: "3 seconds", PENDING_TIMEOUT: "30 seconds" } }), {
    excludeTestServices: true
  })("with a fresh database", (it) => {
    it.effect(
      "20 concurrent duplicate authorizations create one authorization and call the processor once",
      () =>
        Effect.gen(function* () {
          const payments = yield* Payments
          yield* simulate({ latency: Duration.millis(150) })
          const before = (yield* calls).authorize
          const body = request()
          const results = yield* Effect.forEach(Array.from({ length: 20 }), () => payments.authorize(body), {
            concurrency: "unbounded"
          })
          yield* simulate({ latency: Duration.zero })
          assert.strictEqual((yield* calls).authorize - before, 1)
          assert.strictEqual(results[0].status, "AUTHORIZED")
          for (const result of results) assert.deepStrictEqual(result, results[0])
        })
    )

    it.effect("a repeated authorization answers the same payment without calling the processor again", () =>
      Effect.gen(function* () {
        const payments = yield* Payments
        const body = request()
        const first = yield* payments.authorize(body)
        const before = (yield* calls).authorize
        const again = yield* payments.authorize(body)
        assert.deepStrictEqual(again, first)
        assert.strictEqual((yield* calls).authorize, before)
        assert.deepStrictEqual(yield* payments.get(body.paymentId), first)
      })
    )

    it.effect("the same id with another amount, currency or token is a mismatch (409)", () =>
      Effect.gen(function* () {
        const payments = yield* Payments
        const body = request()
        yield* payments.authorize(body)
        const before = (yield* calls).authorize
        const amount = yield* Effect.flip(
          payments.authorize({ ...body, amount: { ...body.amount, amount: 2000 } })
        )
        assert.instanceOf(amount, PaymentMismatch)
        assert.deepStrictEqual(amount.mismatched, ["amount"])
        assert.strictEqual(amount.status, 409)
        const currency = yield* Effect.flip(
          payments.authorize({ ...body, amount: { ...body.amount, currency: "USD" } })
        )
        assert.deepStrictEqual(currency instanceof PaymentMismatch && currency.mismatched, ["currency"])
        const token = yield* Effect.flip(payments.authorize({ ...body, token: "tok_decline" }))
        assert.deepStrictEqual(token instanceof PaymentMismatch && token.mismatched, ["token"])
        assert.strictEqual((yield* calls).authorize, before)
      })
    )

    it.effect(
      "a decline is stored: repeating it answers the same decline without calling the processor",
      () =>
        Effect.gen(function* () {
          const payments = yield* Payments
          const body = request({ token: "tok_insufficient_funds" })
          const first = yield* Effect.flip(payments.authorize(body))
          assert.instanceOf(first, PaymentDeclined)
          assert.strictEqual(first.reason, "insufficient_funds")
          const before = (yield* calls).authorize
          const again = yield* Effect.flip(payments.authorize(body))
          assert.instanceOf(again, PaymentDeclined)
          assert.strictEqual(again.reason, "insufficient_funds")
          assert.strictEqual((yield* calls).authorize, before)
          const stored = yield* payments.get(body.paymentId)
          assert.strictEqual(stored.status, "DECLINED")
          assert.strictEqual(stored.declineReason, "insufficient_funds")
        })
    )

    it.effect("capture and void are idempotent; a void after capture is a refund", () =>
      Effect.gen(function* () {
        const payments = yield* Payments
        const captured = request()
        yield* payments.authorize(captured)
        assert.strictEqual((yield* payments.capture(captured.paymentId)).status, "CAPTURED")
        const before = yield* calls
        assert.strictEqual((yield* payments.capture(captured.paymentId)).status, "CAPTURED")
        assert.strictEqual((yield* calls).capture, before.capture)
        assert.strictEqual((yield* payments.void(captured.paymentId)).status, "REFUNDED")
        assert.strictEqual((yield* payments.void(captured.paymentId)).status, "REFUNDED")
        assert.strictEqual((yield* calls).refund, before.refund + 1)

        const voided = request()
        yield* payments.authorize(voided)
        assert.strictEqual((yield* payments.void(voided.paymentId)).status, "VOIDED")
        assert.strictEqual((yield* payments.void(voided.paymentId)).status, "VOIDED")
        assert.strictEqual((yield* calls).void, before.void + 1)
      })
    )

    it.effect("illegal transitions are rejected with 409 naming the current state", () =>
      Effect.gen(function* () {
        const payments = yield* Payments
        const rejected = (effect: Effect.Effect<unknown, unknown>) =>
          Effect.map(Effect.flip(effect), (error) => {
            assert.instanceOf(error, InvalidPaymentState)
            return error instanceof InvalidPaymentState
              ? [error.operation, error.currentState, error.status]
              : []
          })

        const voided = request()
        yield* payments.authorize(voided)
        yield* payments.void(voided.paymentId)
        assert.deepStrictEqual(yield* rejected(payments.capture(voided.paymentId)), [
          "capture",
          "VOIDED",
          409
        ])

        const refunded = request()
        yield* payments.authorize(refunded)
        yield* payments.capture(refunded.paymentId)
        yield* payments.void(refunded.paymentId)
        assert.deepStrictEqual(yield* rejected(payments.capture(refunded.paymentId)), [
          "capture",
          "REFUNDED",
          409
        ])

        const declined = request({ token: "tok_decline" })
        yield* Effect.flip(payments.authorize(declined))
        assert.deepStrictEqual(yield* rejected(payments.capture(declined.paymentId)), [
          "capture",
          "DECLINED",
          409
        ])
        assert.deepStrictEqual(yield* rejected(payments.void(declined.paymentId)), ["void", "DECLINED", 409])
      })
    )

    it.effect("an unknown payment is not found", () =>
      Effect.gen(function* () {
        const payments = yield* Payments
        const id = newId()
        assert.instanceOf(yield* Effect.flip(payments.get(id)), PaymentNotFound)
        assert.instanceOf(yield* Effect.flip(payments.capture(id)), PaymentNotFound)
        assert.instanceOf(yield* Effect.flip(payments.void(id)), PaymentNotFound)
      })
    )

    it.effect(
      "an authorization abandoned longer than PENDING_TIMEOUT ago is taken over by the next request",
      () =>
        Effect.gen(function* () {
          const payments = yield* Payments
          const repo = yield* PaymentsRepo
          const body = request()
          // What a crash between the INSERT and the processor's answer leaves behind.
          const crashedAt = new Date(Date.now() - 31_000)
          yield* repo.insertPending({
            id: body.paymentId,
            amount: body.amount,
            tokenHash: hashToken(body.token),
            claimToken: crypto.randomUUID(),
            now: crashedAt
          })
          assert.strictEqual((yield* payments.get(body.paymentId)).status, "PENDING")
          const before = (yield* calls).authorize
          const payment = yield* payments.authorize(body)
          assert.strictEqual(payment.status, "AUTHORIZED")
          assert.strictEqual((yield* calls).authorize, before + 1)
          const stored = yield* repo.find(body.paymentId)
          assert.isTrue(Option.isSome(stored) && stored.value.claim === undefined)
        })
    )

    it.effect("a failed processor call gives its claim back, so the next request retries at once", () =>
      Effect.gen(function* () {
        const payments = yield* Payments
        const body = request()
        yield* simulate({ errorRate: 1 })
        const error = yield* Effect.flip(payments.authorize(body))
        yield* simulate({ errorRate: 0 })
        assert.instanceOf(error, ProcessorUnavailable)
        assert.strictEqual((yield* payments.get(body.paymentId)).status, "PENDING")
        assert.strictEqual((yield* payments.authorize(body)).status, "AUTHORIZED")
      })
    )
  })

  layer(appLayer({ env: { IN_FLIGHT_WAIT: "200 millis", PENDING_TIMEOUT: "30 seconds" } }), {
    excludeTestServices: true
  })("with an operation in flight", (it) => {
    it.effect(
      "a duplicate waits up to IN_FLIGHT_WAIT, then answers 409 in progress without calling the processor",
      () =>
        Effect.gen(function* () {
          const payments = yield* Payments
          const repo = yield* PaymentsRepo
          const body = request()
          yield* repo.insertPending({
            id: body.paymentId,
            amount: body.amount,
            tokenHash: hashToken(body.token),
            claimToken: crypto.randomUUID(),
            now: new Date()
          })
          const before = (yield* calls).authorize
          const error = yield* Effect.flip(payments.authorize(body))
          assert.instanceOf(error, PaymentInProgress)
          assert.strictEqual(error.operation, "authorize")
          assert.strictEqual((yield* calls).authorize, before)
        })
    )
  })
})
