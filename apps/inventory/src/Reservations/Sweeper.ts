/**
 * Releases reservations that were not committed before they expired, returning their stock.
 *
 * The loop is a fiber forked into the layer's scope: it starts with the service and is
 * interrupted when the service shuts down. Several replicas can sweep at once: each claims a
 * batch of expired rows with `FOR UPDATE SKIP LOCKED` and releases them in the same transaction,
 * so no reservation is released twice and no replica waits for another.
 */
import type { OrderId } from "@acme/contracts"
import { Context, DateTime, Effect, Layer, Schedule } from "effect"
import { sweepBatchSize, sweepInterval } from "../Settings.ts"
import { ReservationsRepo } from "./ReservationsRepo.ts"

export class Sweeper extends Context.Service<
  Sweeper,
  {
    /** Releases every reservation still RESERVED at `asOf`; the ids it released. */
    readonly sweep: (asOf: DateTime.Utc) => Effect.Effect<ReadonlyArray<OrderId>>
  }
>()("inventory/Sweeper") {
  static readonly layer = Layer.effect(
    Sweeper,
    Effect.gen(function* () {
      const repo = yield* ReservationsRepo
      const interval = yield* sweepInterval
      const batchSize = yield* sweepBatchSize

      const sweepBatch = (asOf: DateTime.Utc) =>
        repo.transaction(
          Effect.gen(function* () {
            const ids = yield* repo.claimExpired(asOf, batchSize)
            yield* repo.release(ids)
            return ids
          })
        )

      const sweep = Effect.fn("Sweeper.sweep")(function* (asOf: DateTime.Utc) {
        const released: Array<OrderId> = []
        while (true) {
          const ids = yield* sweepBatch(asOf)
          released.push(...ids)
          if (ids.length < batchSize) break
        }
        if (released.length > 0) {
          yield* Effect.logInfo("released expired reservations").pipe(
            Effect.annotateLogs({ count: released.length })
          )
        }
        return released
      })

      // A failed round (database down) is logged and retried at the next tick, never fatal.
      yield* DateTime.now.pipe(
        Effect.flatMap(sweep),
        Effect.catchCause((cause) => Effect.logWarning("reservation sweep failed", cause)),
        Effect.repeat(Schedule.spaced(interval)),
        Effect.forkScoped
      )

      return Sweeper.of({ sweep })
    })
  ).pipe(Layer.provide(ReservationsRepo.layer))
}
