/**
 * Voids authorizations left behind: AUTHORIZED for longer than `AUTHORIZATION_TIMEOUT`, neither
 * captured nor voided. That happens when an authorization succeeds after the order gave up on it
 * (its answer was lost or came too late, the order was rejected and its void found nothing to
 * void yet): without this the card's funds would stay held until the processor lets the
 * authorization lapse. The saga captures within seconds of authorizing, so an authorization this
 * old is abandoned; if its order does try to capture later, the capture is refused (the payment
 * is VOIDED) and the order compensates.
 *
 * Each void takes the row's claim like any other operation (see `PaymentsRepo`), so it never
 * races a capture: whichever claims first wins, and the sweeper never refunds. Several replicas
 * may sweep at once for the same reason. The loop is a fiber in the layer's scope; a failed
 * round (database or processor down) is logged and tried again at the next tick.
 */
import type { OrderId } from "@acme/contracts"
import { Clock, Context, Duration, Effect, Layer, Schedule } from "effect"
import * as Settings from "../Settings.ts"
import { Payments } from "./Payments.ts"
import { PaymentsRepo } from "./PaymentsRepo.ts"

const batchSize = 100

export class Sweeper extends Context.Service<
  Sweeper,
  {
    /** Voids every authorization older than the timeout at `now`; the ids it voided. */
    readonly sweep: (now: Date) => Effect.Effect<ReadonlyArray<OrderId>>
  }
>()("payment/Sweeper") {
  static readonly layer = Layer.effect(
    Sweeper,
    Effect.gen(function* () {
      const repo = yield* PaymentsRepo
      const payments = yield* Payments
      const { authorizationTimeout } = yield* Settings.payments
      // A tenth of the timeout, between 1 s and 1 min: an abandoned authorization lives at
      // most 10% longer than the timeout.
      const interval = Duration.clamp(Duration.divideUnsafe(authorizationTimeout, 10), {
        minimum: Duration.seconds(1),
        maximum: Duration.minutes(1)
      })

      const sweep = Effect.fn("Sweeper.sweep")(function* (now: Date) {
        const before = new Date(now.getTime() - Duration.toMillis(authorizationTimeout))
        const voided: Array<OrderId> = []
        while (true) {
          const ids = yield* repo.authorizedBefore(before, batchSize)
          for (const id of ids) {
            const done = yield* payments
              .voidAbandoned(id)
              .pipe(
                Effect.catchCause((cause) =>
                  Effect.as(Effect.logWarning("void of an abandoned authorization failed", cause), false)
                )
              )
            if (done) voided.push(id)
          }
          // Stop at a short batch, or when nothing of a full one could be voided (all failed).
          if (ids.length < batchSize || voided.length === 0) break
        }
        if (voided.length > 0) {
          yield* Effect.logWarning("voided abandoned authorizations").pipe(
            Effect.annotateLogs({ count: voided.length })
          )
        }
        return voided
      })

      yield* Clock.currentTimeMillis.pipe(
        Effect.flatMap((millis) => sweep(new Date(millis))),
        Effect.catchCause((cause) => Effect.logWarning("authorization sweep failed", cause)),
        Effect.repeat(Schedule.spaced(interval)),
        Effect.forkScoped
      )

      return Sweeper.of({ sweep })
    })
  )
}
