/**
 * The sweeper of abandoned authorizations against a real PostgreSQL: an authorization older
 * than AUTHORIZATION_TIMEOUT is voided at the processor, a recent one, a captured one and one
 * in flight are left alone. `sweep` is called with an explicit "now"; the loop itself runs on
 * the test clock, which does not move.
 */
import { assert, describe, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Option } from "effect"
import { Payments } from "../src/Payments/Payments.ts"
import { PaymentsRepo } from "../src/Payments/PaymentsRepo.ts"
import { Sweeper } from "../src/Payments/Sweeper.ts"
import { appLayer, calls, request } from "./fixtures.ts"

const env = { AUTHORIZATION_TIMEOUT: "1 minute" }
const minute = 60_000

describe("Sweeper", () => {
  const sweeperLayer = Sweeper.layer.pipe(
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(env))),
    Layer.provideMerge(appLayer({ env }))
  )
  layer(sweeperLayer, { excludeTestServices: true })("with a fresh database", (it) => {
    it.effect("an authorization left AUTHORIZED past the timeout is voided at the processor", () =>
      Effect.gen(function* () {
        const payments = yield* Payments
        const sweeper = yield* Sweeper
        // As when the order gave up before this authorization succeeded: nobody captures it.
        const late = yield* payments.authorize(request())
        const voidsBefore = (yield* calls).void
        const pastTimeout = new Date(late.updatedAt.epochMilliseconds + minute + 1)
        const voided = yield* sweeper.sweep(pastTimeout)
        assert.include(voided, late.id)
        assert.strictEqual((yield* payments.get(late.id)).status, "VOIDED")
        assert.strictEqual((yield* calls).void - voidsBefore, 1)
        // Sweeping again finds nothing more to do for it.
        assert.notInclude(yield* sweeper.sweep(pastTimeout), late.id)
      })
    )

    it.effect("a recent authorization is left for its order to capture", () =>
      Effect.gen(function* () {
        const payments = yield* Payments
        const sweeper = yield* Sweeper
        const payment = yield* payments.authorize(request())
        const voided = yield* sweeper.sweep(new Date(payment.updatedAt.epochMilliseconds + minute - 1000))
        assert.notInclude(voided, payment.id)
        assert.strictEqual((yield* payments.get(payment.id)).status, "AUTHORIZED")
        const captured = yield* payments.capture(payment.id)
        assert.strictEqual(captured.status, "CAPTURED")
      })
    )

    it.effect("a captured payment is never refunded, however old", () =>
      Effect.gen(function* () {
        const payments = yield* Payments
        const sweeper = yield* Sweeper
        const payment = yield* payments.authorize(request())
        yield* payments.capture(payment.id)
        const refundsBefore = (yield* calls).refund
        yield* sweeper.sweep(new Date(Date.now() + 60 * minute))
        assert.strictEqual((yield* payments.get(payment.id)).status, "CAPTURED")
        assert.strictEqual((yield* calls).refund, refundsBefore)
      })
    )

    it.effect("an authorization whose capture is in flight is not voided under it", () =>
      Effect.gen(function* () {
        const payments = yield* Payments
        const sweeper = yield* Sweeper
        const repo = yield* PaymentsRepo
        const payment = yield* payments.authorize(request())
        const now = new Date()
        // A capture holds the claim (its processor call in flight).
        const claimed = yield* repo.claim({
          id: payment.id,
          from: "AUTHORIZED",
          action: "capture",
          claimToken: crypto.randomUUID(),
          now,
          staleBefore: new Date(now.getTime() - minute)
        })
        assert.isTrue(Option.isSome(claimed))
        const voidsBefore = (yield* calls).void
        const voided = yield* sweeper.sweep(new Date(payment.updatedAt.epochMilliseconds + minute + 1))
        assert.notInclude(voided, payment.id)
        assert.strictEqual((yield* payments.get(payment.id)).status, "AUTHORIZED")
        assert.strictEqual((yield* calls).void, voidsBefore, "no void reached the processor")
      })
    )
  })
})
