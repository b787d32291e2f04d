/**
 * Runs the order saga on the outbox: applies each step's outcome to the order (under its row
 * lock, in the short transaction where the relay records the outcome, after the step's call
 * has returned) through the pure `transition`, and in that same transaction writes what
 * follows: the next step's command (which the relay delivers right after the commit), or the
 * end of the saga (the order's final status, its event, the notification that wakes waiting
 * requests, the metrics).
 *
 * `SagaRunner.handler` is the relay's `OutboxHandler`: deliver the step (`SagaSteps`), then
 * advance the saga with its outcome; a dead-lettered step advances it with `DeadLettered`.
 */
import type { OrderId } from "@acme/contracts"
import { LogFields } from "@acme/metrics"
import { Context, Effect, Layer, Metric, Option, Schema } from "effect"
import { EventsRepo } from "../Events/EventsRepo.ts"
import * as Metrics from "../Metrics.ts"
import type { LockedOrder, OrderPatch, OrderRecord } from "../Orders/OrdersRepo.ts"
import { OrdersRepo } from "../Orders/OrdersRepo.ts"
import { OutboxRepo } from "../Outbox/OutboxRepo.ts"
import type { OutboxMessage } from "../Outbox/OutboxRepo.ts"
import { currentTraceparent, DeliveryFailure, OutboxHandler } from "../Outbox/Relay.ts"
import type { Outcome, SagaState, Transition } from "./Saga.ts"
import { initial, isCompensation, Step, transition } from "./Saga.ts"
import { decodeOrderId, SagaSteps } from "./SagaSteps.ts"

const eventType = {
  CONFIRMED: "order.confirmed",
  REJECTED: "order.rejected",
  CANCELLED: "order.cancelled"
} as const

const decodeStep = Schema.decodeUnknownEffect(Step)

export class SagaRunner extends Context.Service<
  SagaRunner,
  {
    /** Enqueues a new order's first step; inside the transaction that stores the order. */
    readonly start: (order: {
      readonly id: OrderId
      readonly items: ReadonlyArray<{ readonly sku: string; readonly quantity: number }>
    }) => Effect.Effect<void>
    /** Applies a step's outcome to a locked order: the order after it. */
    readonly advance: (order: LockedOrder, outcome: Outcome) => Effect.Effect<OrderRecord>
    /** Applies a transition decided elsewhere (a cancel) to a locked order. */
    readonly apply: (order: LockedOrder, transition: Transition) => Effect.Effect<OrderRecord>
    /** Stores a new saga state without a step (a cancel remembered for the step in flight). */
    readonly remember: (order: LockedOrder, state: SagaState) => Effect.Effect<OrderRecord>
  }
>()("order/SagaRunner") {
  static readonly layer = Layer.effect(
    SagaRunner,
    Effect.gen(function* () {
      const orders = yield* OrdersRepo
      const outbox = yield* OutboxRepo
      const events = yield* EventsRepo

      const enqueue = (orderId: OrderId, step: Step, payload: unknown, secret?: unknown) =>
        Effect.flatMap(currentTraceparent, (traceparent) =>
          outbox.enqueue({
            sagaId: orderId,
            command: step,
            payload,
            ...(secret === undefined ? {} : { secret }),
            retryUntilDone: isCompensation(step),
            traceparent
          })
        )

      const start = Effect.fn("Saga.start")(function* (order: {
        readonly id: OrderId
        readonly items: ReadonlyArray<{ readonly sku: string; readonly quantity: number }>
      }) {
        yield* enqueue(order.id, initial.step as Step, {
          items: order.items.map((item) => ({ sku: item.sku, quantity: item.quantity }))
        })
      })

      const apply = Effect.fn("Saga.apply")(function* (
        order: LockedOrder,
        { state, next }: Transition,
        outcome?: Outcome
      ) {
        if (next._tag === "Unexpected") {
          yield* Effect.logError("saga outcome not expected in its state; ignored").pipe(
            Effect.annotateLogs({ "order.id": order.id, step: order.saga.step, outcome: outcome?._tag })
          )
          return order as OrderRecord
        }
        const priced =
          outcome?._tag === "Reserved"
            ? { items: outcome.items.map((item) => ({ ...item })), total: outcome.total }
            : undefined
        const total = priced?.total ?? order.total
        let patch: OrderPatch = { saga: state, status: state.status, ...(priced ? { priced } : {}) }

        if (next._tag === "Run") {
          if (next.step === "authorize") {
            if (order.paymentToken === undefined || total === undefined) {
              return yield* Effect.die(new Error(`order ${order.id} has no token or total to authorize`))
            }
            yield* enqueue(order.id, "authorize", { amount: total }, { token: order.paymentToken })
            patch = { ...patch, clearPaymentToken: true }
          } else {
            yield* enqueue(order.id, next.step, {})
          }
          if (isCompensation(next.step)) yield* Metric.update(Metrics.compensations(next.step), 1)
          const { order: updated } = yield* orders.update(order.id, patch)
          return updated
        }

        // The saga ended.
        patch = {
          ...patch,
          status: next.status,
          reason: next.reason,
          declineReason: next.declineReason,
          clearPaymentToken: true,
          confirmed: next.status === "CONFIRMED",
          finished: true
        }
        const { order: updated, ageSeconds } = yield* orders.update(
          order.id,
          patch,
          events.recording({
            type: eventType[next.status],
            orderId: order.id,
            customerId: order.customerId,
            status: next.status,
            ...(next.reason === undefined ? {} : { reason: next.reason })
          })
        )
        yield* Metric.update(Metrics.completed(next.status, next.reason), 1)
        yield* Metric.update(Metrics.sagaDuration(next.status), ageSeconds)
        yield* Effect.logInfo(
          "order saga ended",
          new LogFields({ "order.id": order.id, status: next.status, reason: next.reason ?? "" })
        )
        return updated
      })

      const advance = (order: LockedOrder, outcome: Outcome) =>
        apply(order, transition(order.saga, outcome), outcome)

      const remember = (order: LockedOrder, state: SagaState) =>
        Effect.map(orders.update(order.id, { saga: state, status: state.status }), ({ order }) => order)

      return SagaRunner.of({
        start,
        advance,
        apply: (order, next) => apply(order, next),
        remember
      })
    })
  )

  /** The relay's handler: each outbox command is a saga step. */
  static readonly handler = Layer.effect(
    OutboxHandler,
    Effect.gen(function* () {
      const runner = yield* SagaRunner
      const steps = yield* SagaSteps
      const orders = yield* OrdersRepo

      /** The order of a message, locked, if the message is for the step its saga is at. */
      const current = (message: OutboxMessage, step: Step) =>
        Effect.gen(function* () {
          const orderId = yield* decodeOrderId(message.sagaId)
          const locked = yield* orders.lock(orderId)
          if (Option.isSome(locked) && locked.value.saga.step === step) return locked
          yield* Effect.logWarning("outbox command for a saga no longer at its step; ignored").pipe(
            Effect.annotateLogs({ "order.id": message.sagaId, step })
          )
          return Option.none<LockedOrder>()
        })

      const stepOf = (message: OutboxMessage) =>
        decodeStep(message.command).pipe(
          Effect.mapError(
            () => new DeliveryFailure({ message: `unknown command ${message.command}`, retryable: false })
          )
        )

      const handle = Effect.fnUntraced(function* (message: OutboxMessage) {
        const step = yield* stepOf(message)
        const orderId = yield* decodeOrderId(message.sagaId)
        yield* Effect.annotateCurrentSpan({ "order.id": orderId, "saga.step": step })
        const outcome = yield* steps.run(step, orderId, message.payload, message.secret)
        yield* Effect.annotateCurrentSpan({ "saga.outcome": outcome._tag })
        return Effect.flatMap(current(message, step), (order) =>
          Option.isSome(order) ? Effect.asVoid(runner.advance(order.value, outcome)) : Effect.void
        ).pipe(Effect.catchTag("DeliveryFailure", Effect.die))
      })

      const deadLettered = (message: OutboxMessage) =>
        Effect.gen(function* () {
          const step = yield* stepOf(message)
          const order = yield* current(message, step)
          if (Option.isSome(order)) yield* runner.advance(order.value, { _tag: "DeadLettered" })
        }).pipe(
          Effect.catchTag("DeliveryFailure", (error) => Effect.logError("dead letter not applied", error))
        )

      // A cancel remembered while this step was in flight, and the step failed: compensate now
      // rather than retry a step the customer no longer wants.
      const abandon = (message: OutboxMessage) =>
        Effect.gen(function* () {
          const step = yield* stepOf(message)
          if (isCompensation(step)) return Option.none()
          const order = yield* current(message, step)
          if (Option.isNone(order) || !order.value.saga.cancelRequested) return Option.none()
          return Option.some(Effect.asVoid(runner.advance(order.value, { _tag: "CancelRequested" })))
        }).pipe(Effect.catchTag("DeliveryFailure", () => Effect.succeed(Option.none<Effect.Effect<void>>())))

      return OutboxHandler.of({ handle, deadLettered, abandon })
    })
  )
}
