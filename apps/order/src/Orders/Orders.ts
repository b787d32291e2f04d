/**
 * Orders: place, get, list and cancel, always in the scope of the customer who placed them.
 *
 * Placing is one transaction (the order PENDING, its idempotency key and the saga's first
 * command in the outbox), then a bounded wait on the result channel: 201 with the order if its
 * saga ended in time, 202 (still PENDING) otherwise. The answer is stored with the key, so a
 * retry with the same key and body gets it again. Prices come from inventory (the reservation),
 * never from the caller.
 *
 * Cancelling follows `Saga.cancel`: a PENDING order is compensated (whatever its saga did so far
 * is undone) and ends CANCELLED; a CONFIRMED one within `CANCELLATION_WINDOW` of its
 * confirmation is refunded and restocked, then CANCELLED; a CANCELLED one answers as it is; any
 * other is 409. Cancelling waits on the result channel like placing.
 */
import { OrderId } from "@acme/contracts"
import { defaultPageSize } from "@acme/contracts"
import type {
  CustomerId,
  IdempotencyKeyInFlight,
  IdempotencyKeyReused,
  Order,
  OrderPage,
  PlaceOrder
} from "@acme/contracts/order"
import {
  InvalidOrderCursor,
  Order as OrderSchema,
  OrderNotCancellable,
  OrderNotFound
} from "@acme/contracts/order"
import { Context, DateTime, Effect, Layer, Option, Result, Schema } from "effect"
import { Base64Url } from "effect/encoding"
import type { Begun } from "../Idempotency/Idempotency.ts"
import { fingerprint, Idempotency } from "../Idempotency/Idempotency.ts"
import { OutboxRepo } from "../Outbox/OutboxRepo.ts"
import { cancel as decideCancel, initial } from "../Saga/Saga.ts"
import { SagaRunner } from "../Saga/SagaRunner.ts"
import * as Settings from "../Settings.ts"
import type { OrderRecord } from "./OrdersRepo.ts"
import { OrdersRepo, toOrder } from "./OrdersRepo.ts"
import { ResultChannel } from "./ResultChannel.ts"

/** What placing an order answers. */
export type Placed =
  /** The order, 201 if its saga ended (`OrderPlaced`), 202 if it is still PENDING (`OrderAccepted`). */
  | { readonly _tag: "Answered"; readonly status: 201 | 202; readonly order: Order }
  /** A stored answer, replayed for a repeated request. */
  | { readonly _tag: "Replayed"; readonly status: number; readonly body: string }

const encodeOrder = Schema.encodeSync(OrderSchema)

/** List cursors: `o1.<seq>` in base64url, opaque to clients. */
const cursorPrefix = "o1."
const encodeCursor = (seq: number) => Base64Url.encode(`${cursorPrefix}${seq}`)
const decodeCursor = (cursor: string): number | undefined => {
  const decoded = Base64Url.decodeString(cursor)
  if (Result.isFailure(decoded) || !decoded.success.startsWith(cursorPrefix)) return undefined
  const digits = decoded.success.slice(cursorPrefix.length)
  return /^[1-9][0-9]{0,15}$/.test(digits) ? Number(digits) : undefined
}

export class Orders extends Context.Service<
  Orders,
  {
    readonly place: (
      customerId: CustomerId,
      idempotencyKey: string,
      request: PlaceOrder
    ) => Effect.Effect<Placed, IdempotencyKeyReused | IdempotencyKeyInFlight>
    readonly get: (customerId: CustomerId, orderId: OrderId) => Effect.Effect<Order, OrderNotFound>
    readonly list: (
      customerId: CustomerId,
      query: { readonly limit?: number; readonly cursor?: string }
    ) => Effect.Effect<OrderPage, InvalidOrderCursor>
    readonly cancel: (
      customerId: CustomerId,
      orderId: OrderId
    ) => Effect.Effect<Order, OrderNotFound | OrderNotCancellable>
  }
>()("order/Orders") {
  static readonly layer = Layer.effect(
    Orders,
    Effect.gen(function* () {
      const repo = yield* OrdersRepo
      const outbox = yield* OutboxRepo
      const saga = yield* SagaRunner
      const idempotency = yield* Idempotency
      const results = yield* ResultChannel
      const { cancellationWindow } = yield* Settings.orders

      const notFound = (orderId: OrderId) =>
        new OrderNotFound({ orderId, detail: `No order ${orderId} for this customer` })

      /** The answer for an order after the wait: 201 once its saga ended, else 202. */
      const answer = (order: OrderRecord): { readonly status: 201 | 202; readonly order: Order } => ({
        status: order.saga.step === "done" ? 201 : 202,
        order: toOrder(order)
      })

      const place = Effect.fn("Orders.place")(function* (
        customerId: CustomerId,
        idempotencyKey: string,
        request: PlaceOrder
      ) {
        const ref = { customerId, key: idempotencyKey }
        const orderId = OrderId.make(crypto.randomUUID())
        const items = request.items.map((item) => ({ sku: item.sku, quantity: item.quantity }))
        // The saga's first command first: the order's insert carries it (`OutboxRepo.carrying`).
        const create = Effect.gen(function* () {
          yield* saga.start({ id: orderId, items })
          yield* repo.insert({
            id: orderId,
            customerId,
            items,
            paymentToken: request.payment.token,
            saga: initial
          })
        })
        // Only the wait can be interrupted (a client going away): once the key is claimed, the
        // request either stores its answer or gives the key back, never neither.
        return yield* Effect.uninterruptibleMask((restore) =>
          Effect.gen(function* () {
            const begun: Begun = yield* idempotency.begin(
              { ...ref, requestHash: fingerprint(request) },
              orderId,
              create,
              outbox.transaction
            )
            if (begun._tag === "Replay") {
              return { _tag: "Replayed", status: begun.status, body: begun.body } satisfies Placed
            }
            yield* Effect.annotateCurrentSpan({
              "order.id": begun.orderId,
              resumed: begun._tag === "Resumed"
            })
            const order = yield* restore(results.await(begun.orderId, begun._tag === "New")).pipe(
              // The saga goes on regardless (it lives in the outbox); give the key back so that a
              // retry answers at once instead of waiting out the lease.
              Effect.onInterrupt(() => idempotency.release(ref).pipe(Effect.ignore))
            )
            const { status, order: wire } = answer(order)
            yield* idempotency.complete(ref, status, JSON.stringify(encodeOrder(wire)))
            return { _tag: "Answered", status, order: wire } satisfies Placed
          })
        )
      })

      const get = Effect.fn("Orders.get")(function* (customerId: CustomerId, orderId: OrderId) {
        const found = yield* repo.findForCustomer(customerId, orderId)
        if (Option.isNone(found)) return yield* notFound(orderId)
        return toOrder(found.value)
      })

      const list = Effect.fn("Orders.list")(function* (
        customerId: CustomerId,
        query: { readonly limit?: number; readonly cursor?: string }
      ) {
        const limit = query.limit ?? defaultPageSize
        let before: number | undefined
        if (query.cursor !== undefined) {
          before = decodeCursor(query.cursor)
          if (before === undefined) {
            return yield* new InvalidOrderCursor({
              cursor: query.cursor,
              detail: "The cursor is not one this service issued; start again without it"
            })
          }
        }
        const rows = yield* repo.list(customerId, before, limit + 1)
        const page = rows.slice(0, limit)
        return {
          items: page.map(toOrder),
          nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1].seq) : null
        }
      })

      const cancel = Effect.fn("Orders.cancel")(function* (customerId: CustomerId, orderId: OrderId) {
        yield* outbox.transaction(
          Effect.gen(function* () {
            const locked = yield* repo.lock(orderId, customerId)
            if (Option.isNone(locked)) return yield* notFound(orderId)
            const order = locked.value
            const decision = decideCancel(order.saga, {
              now: order.now,
              confirmedAt:
                order.confirmedAt === undefined ? undefined : DateTime.fromDateUnsafe(order.confirmedAt),
              window: cancellationWindow
            })
            switch (decision._tag) {
              case "Refused":
                return yield* new OrderNotCancellable({
                  orderId,
                  orderStatus: order.status,
                  detail:
                    order.status === "CONFIRMED"
                      ? `Order ${orderId} was confirmed more than the cancellation window ago`
                      : `Order ${orderId} is ${order.status}`
                })
              case "Unchanged":
                return
              case "Requested": {
                // Pre-empt the step's command if no relay is delivering it; otherwise its outcome,
                // when it comes, finds the cancel remembered.
                const superseded = yield* outbox.supersedePending(orderId)
                if (Option.isSome(superseded)) yield* saga.advance(order, { _tag: "CancelRequested" })
                else yield* saga.remember(order, decision.state)
                return
              }
              case "Compensate":
                yield* saga.apply(order, decision.transition)
                return
            }
          })
        )
        return toOrder(yield* results.await(orderId))
      })

      return Orders.of({ place, get, list, cancel })
    })
  )
}
