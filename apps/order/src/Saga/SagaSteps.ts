/**
 * Each saga step as one call to inventory or payment, and its answer as an `Outcome` for the
 * state machine. Every step is keyed by the order id (the reservation id and the payment id), so
 * delivering it again never repeats its effect.
 *
 * - Business answers (out of stock, declined, "nothing to release") are outcomes.
 * - Compensations treat "nothing there" as done: voiding a payment that was never authorized
 *   (404, or still PENDING / DECLINED) or releasing a reservation that does not exist (404).
 * - Everything else fails the delivery (see {@link isRetryable}): retryable when another attempt
 *   may succeed, permanent when no retry can help, which dead-letters a forward step at once.
 *
 * Calls go through the downstreams of `Downstream/Downstreams.ts`, which map the failures of the
 * call itself to `@acme/resilience`'s typed `CallFailure`.
 */
import { OrderId, Sku } from "@acme/contracts"
import { PaymentInProgress } from "@acme/contracts/payment"
import { DownstreamTimeout, DownstreamUnavailable } from "@acme/resilience"
import { Context, Duration, Effect, Layer, Predicate, Schema } from "effect"
import { Inventory, Payment } from "../Downstream/Downstreams.ts"
import { DeliveryFailure } from "../Outbox/Relay.ts"
import type { Outcome, Step } from "./Saga.ts"

/** What the reserve command carries. */
export const ReservePayload = Schema.Struct({
  items: Schema.Array(Schema.Struct({ sku: Sku, quantity: Schema.Int }))
})
/** What the authorize command carries; the card token travels as the row's secret. */
export const AuthorizePayload = Schema.Struct({
  amount: Schema.Struct({ amount: Schema.Int, currency: Schema.String })
})
export const AuthorizeSecret = Schema.Struct({ token: Schema.String })

const decode = <S extends Schema.Top & { readonly DecodingServices: never }>(schema: S, value: unknown) =>
  Schema.decodeUnknownEffect(schema)(value).pipe(
    Effect.mapError(
      (error) => new DeliveryFailure({ message: `malformed command: ${error.message}`, retryable: false })
    )
  )

const describe = (error: unknown): string => {
  const tag = Predicate.hasProperty(error, "_tag") && typeof error._tag === "string" ? error._tag : "Error"
  return error instanceof Error && error.message !== "" ? `${tag}: ${error.message}` : tag
}

/**
 * Whether another attempt may succeed: the downstream was unavailable or slow (its circuit
 * open, a refused connection, a 5xx, the processor unavailable), or the payment is still in
 * progress. A contract mismatch, or a contract error that is not an outcome, would be refused
 * again: it dead-letters a forward step at once.
 */
export const isRetryable = (error: unknown): boolean =>
  error instanceof DownstreamUnavailable ||
  error instanceof DownstreamTimeout ||
  error instanceof PaymentInProgress

const failed = (error: unknown) =>
  new DeliveryFailure({
    message: describe(error),
    retryable: isRetryable(error),
    ...(error instanceof DownstreamUnavailable && error.reason !== "unreachable"
      ? { retryAfterMillis: Duration.toMillis(error.retryAfter) }
      : {})
  })

const permanent = (message: string) => Effect.fail(new DeliveryFailure({ message, retryable: false }))

const outcome = (tag: Exclude<Outcome["_tag"], "Reserved" | "Declined">): Outcome =>
  ({ _tag: tag }) as Outcome

export class SagaSteps extends Context.Service<
  SagaSteps,
  {
    /** Runs a step for an order: its outcome, or why it could not be delivered. */
    readonly run: (
      step: Step,
      orderId: OrderId,
      payload: unknown,
      secret: unknown
    ) => Effect.Effect<Outcome, DeliveryFailure>
  }
>()("order/SagaSteps") {
  static readonly layer = Layer.effect(
    SagaSteps,
    Effect.gen(function* () {
      const inventory = yield* Inventory
      const payment = yield* Payment

      const reserve = (id: OrderId, payload: unknown) =>
        Effect.flatMap(decode(ReservePayload, payload), ({ items }) =>
          inventory
            .call((client) => client.reservations.create({ payload: { reservationId: id, items } }))
            .pipe(
              Effect.map((reservation): Outcome => ({
                _tag: "Reserved",
                items: reservation.items,
                total: reservation.total
              })),
              Effect.catchTags({
                OutOfStock: () => Effect.succeed(outcome("OutOfStock")),
                UnknownProducts: () => Effect.succeed(outcome("UnknownSku")),
                MixedCurrencies: () => Effect.succeed(outcome("ReservationRefused")),
                AmountTooLarge: () => Effect.succeed(outcome("ReservationRefused"))
              }),
              Effect.mapError(failed)
            )
        )

      const authorize = (id: OrderId, payload: unknown, secret: unknown) =>
        Effect.gen(function* () {
          const { amount } = yield* decode(AuthorizePayload, payload)
          const { token } = yield* decode(AuthorizeSecret, secret)
          return yield* payment
            .call((client) => client.payments.authorize({ payload: { paymentId: id, amount, token } }))
            .pipe(
              Effect.flatMap((paid) =>
                paid.status === "AUTHORIZED" || paid.status === "CAPTURED"
                  ? Effect.succeed(outcome("Authorized"))
                  : permanent(`authorization answered a ${paid.status} payment`)
              ),
              Effect.catchTags({
                PaymentDeclined: (declined) =>
                  Effect.succeed<Outcome>({ _tag: "Declined", reason: declined.reason })
              }),
              Effect.mapError((error) => (error instanceof DeliveryFailure ? error : failed(error)))
            )
        })

      const commit = (id: OrderId) =>
        inventory
          .call((client) => client.reservations.commit({ params: { reservationId: id } }))
          .pipe(
            Effect.as(outcome("Committed")),
            Effect.catchTags({
              // Released (it expired) or gone: the stock is no longer held for the order.
              InvalidReservationState: () => Effect.succeed(outcome("CommitRefused")),
              ReservationNotFound: () => Effect.succeed(outcome("CommitRefused"))
            }),
            Effect.mapError(failed)
          )

      const capture = (id: OrderId) =>
        payment
          .call((client) => client.payments.capture({ params: { id } }))
          .pipe(
            Effect.as(outcome("Captured")),
            Effect.catchTags({
              InvalidPaymentState: () => Effect.succeed(outcome("CaptureRefused")),
              PaymentNotFound: () => Effect.succeed(outcome("CaptureRefused"))
            }),
            Effect.mapError(failed)
          )

      const void_ = (id: OrderId) =>
        payment
          .call((client) => client.payments.void({ params: { id } }))
          .pipe(
            Effect.as(outcome("Voided")),
            Effect.catchTags({
              // Never authorized (PENDING after a failed attempt, DECLINED) or never created.
              InvalidPaymentState: () => Effect.succeed(outcome("Voided")),
              PaymentNotFound: () => Effect.succeed(outcome("Voided"))
            }),
            Effect.mapError(failed)
          )

      const release = (id: OrderId) =>
        inventory
          .call((client) => client.reservations.release({ params: { reservationId: id } }))
          .pipe(
            Effect.as(outcome("Released")),
            Effect.catchTags({
              InvalidReservationState: (refused) =>
                Effect.succeed(outcome(refused.state === "COMMITTED" ? "StillCommitted" : "Released")),
              ReservationNotFound: () => Effect.succeed(outcome("Released"))
            }),
            Effect.mapError(failed)
          )

      const return_ = (id: OrderId) =>
        inventory
          .call((client) => client.reservations.return({ params: { reservationId: id } }))
          .pipe(
            Effect.as(outcome("Returned")),
            Effect.catchTags({
              InvalidReservationState: (refused) =>
                Effect.succeed(outcome(refused.state === "RESERVED" ? "NotCommitted" : "Returned")),
              ReservationNotFound: () => Effect.succeed(outcome("Returned"))
            }),
            Effect.mapError(failed)
          )

      const run = (step: Step, orderId: OrderId, payload: unknown, secret: unknown) => {
        switch (step) {
          case "reserve":
            return reserve(orderId, payload)
          case "authorize":
            return authorize(orderId, payload, secret)
          case "commit":
            return commit(orderId)
          case "capture":
            return capture(orderId)
          case "void":
            return void_(orderId)
          case "release":
            return release(orderId)
          case "return":
            return return_(orderId)
        }
      }

      return SagaSteps.of({ run })
    })
  )
}

/** The order id of a command's saga. */
export const decodeOrderId = (sagaId: string) => decode(OrderId, sagaId)
