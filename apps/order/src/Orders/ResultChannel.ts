/**
 * The result channel: a request that placed (or cancelled) an order waits, for a bounded time,
 * until the order's saga ends, wherever it ends. The saga runs on the outbox, on any replica;
 * the transaction that ends it sends `pg_notify('order_service', 'order:<id>')`, which every
 * replica's listener hands to the requests watching that order. Between notifications the
 * order is also read every `ORDER_RESULT_POLL`, so a lost notification (a listener reconnecting)
 * costs latency, never the answer.
 *
 * Waiting is only reading: interrupting a wait (the client went away) changes nothing about the
 * saga, which lives in the outbox, not in the request.
 */
import type { OrderId } from "@acme/contracts"
import { Clock, Context, Deferred, Duration, Effect, Layer, Option } from "effect"
import { Notifications } from "../Notifications/Notifications.ts"
import * as Settings from "../Settings.ts"
import type { OrderRecord } from "./OrdersRepo.ts"
import { OrdersRepo } from "./OrdersRepo.ts"

export class ResultChannel extends Context.Service<
  ResultChannel,
  {
    /**
     * The order once its saga has ended, or as it is when `ORDER_RESULT_WAIT` has passed. `placed`:
     * the caller has just created it, so it is not read before the first wait.
     */
    readonly await: (orderId: OrderId, placed?: boolean) => Effect.Effect<OrderRecord>
  }
>()("order/ResultChannel") {
  static readonly layer = Layer.effect(
    ResultChannel,
    Effect.gen(function* () {
      const notifications = yield* Notifications
      const orders = yield* OrdersRepo
      const { resultWait, resultPoll } = yield* Settings.orders
      const pollMillis = Duration.toMillis(resultPoll)

      const read = (orderId: OrderId) =>
        Effect.flatMap(orders.find(orderId), (found) =>
          Option.isSome(found)
            ? Effect.succeed(found.value)
            : Effect.die(new Error(`order ${orderId} vanished`))
        )

      const await_ = Effect.fn("ResultChannel.await")(function* (orderId: OrderId, placed = false) {
        const finished = yield* notifications.watchOrder(orderId)
        const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(resultWait)
        const wait = (remaining: number) =>
          Deferred.await(finished).pipe(
            Effect.timeoutOption(Duration.millis(Math.min(pollMillis, remaining)))
          )
        if (placed) yield* wait(deadline - (yield* Clock.currentTimeMillis))
        while (true) {
          const order = yield* read(orderId)
          if (order.saga.step === "done") return order
          const remaining = deadline - (yield* Clock.currentTimeMillis)
          if (remaining <= 0) return order
          yield* wait(remaining)
        }
      }, Effect.scoped)

      return ResultChannel.of({ await: await_ })
    })
  )
}
