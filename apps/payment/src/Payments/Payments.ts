/**
 * Payments: authorize, capture, void (a refund once captured), each idempotent by the payment
 * id, which is the order id.
 *
 * Exactly one request calls the processor for an operation: the one that claimed the row
 * (see `PaymentsRepo`). A concurrent duplicate polls the row for up to `IN_FLIGHT_WAIT` and
 * answers the outcome the claimant recorded, or 409 `PaymentInProgress` if it is not there
 * yet. A claimant that fails (processor unavailable) or is interrupted gives its claim back,
 * so the next request retries at once; one that crashed leaves a claim that any request may
 * take over once it is older than `PENDING_TIMEOUT`. The processor deduplicates by the
 * idempotency key the gateway sends, so a taken-over operation cannot charge twice.
 *
 * Declines are stored (status DECLINED), so a repeated authorization answers the same decline
 * without asking the processor again.
 */
import type { OrderId } from "@acme/contracts"
import type {
  AuthorizeRequest,
  Payment,
  PaymentOperation,
  ProcessorUnavailable
} from "@acme/contracts/payment"
import {
  InvalidPaymentState,
  PaymentDeclined,
  PaymentInProgress,
  PaymentMismatch,
  PaymentNotFound
} from "@acme/contracts/payment"
import { Clock, Context, DateTime, Duration, Effect, Layer, Option } from "effect"
import { createHash } from "node:crypto"
import { ProcessorGateway } from "../Processor/ProcessorGateway.ts"
import * as Settings from "../Settings.ts"
import type { ClaimAction, Completion, PaymentRecord } from "./PaymentsRepo.ts"
import { PaymentsRepo } from "./PaymentsRepo.ts"

/** How often a waiting duplicate reads the row again. */
const pollInterval = Duration.millis(50)

/** What is stored of a card token: enough to recognise a repeated authorization. */
export const hashToken = (token: string) => createHash("sha256").update(token).digest("hex")

export const toPayment = (record: PaymentRecord): Payment => ({
  id: record.id,
  status: record.status,
  amount: record.amount,
  ...(record.declineReason === undefined ? {} : { declineReason: record.declineReason }),
  createdAt: DateTime.fromDateUnsafe(record.createdAt),
  updatedAt: DateTime.fromDateUnsafe(record.updatedAt)
})

const past = { capture: "captured", void: "voided", authorize: "authorized" } as const

export class Payments extends Context.Service<
  Payments,
  {
    readonly authorize: (
      request: AuthorizeRequest
    ) => Effect.Effect<Payment, PaymentDeclined | PaymentMismatch | PaymentInProgress | ProcessorUnavailable>
    readonly get: (id: OrderId) => Effect.Effect<Payment, PaymentNotFound>
    readonly capture: (
      id: OrderId
    ) => Effect.Effect<
      Payment,
      PaymentNotFound | InvalidPaymentState | PaymentInProgress | ProcessorUnavailable
    >
    /** Voids an authorization, or refunds a capture. */
    readonly void: (
      id: OrderId
    ) => Effect.Effect<
      Payment,
      PaymentNotFound | InvalidPaymentState | PaymentInProgress | ProcessorUnavailable
    >
    /**
     * Voids the payment if it is still AUTHORIZED and no other operation holds it; never
     * refunds. Whether it voided it.
     */
    readonly voidAbandoned: (id: OrderId) => Effect.Effect<boolean, ProcessorUnavailable>
  }
>()("payment/Payments") {
  static readonly layer = Layer.effect(
    Payments,
    Effect.gen(function* () {
      const repo = yield* PaymentsRepo
      const gateway = yield* ProcessorGateway
      const config = yield* Settings.payments
      const pendingMillis = Duration.toMillis(config.pendingTimeout)
      const waitMillis = Duration.toMillis(config.inFlightWait)
      const now = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis))

      /**
       * Runs `step` until it settles: `some` is the answer, `none` means the operation is in
       * flight in another request. Past the wait, 409 in progress.
       */
      const settle = <A, E>(
        id: OrderId,
        operation: PaymentOperation,
        step: Effect.Effect<Option.Option<A>, E>
      ) =>
        Effect.gen(function* () {
          const deadline = (yield* Clock.currentTimeMillis) + waitMillis
          while (true) {
            const settled = yield* step
            if (Option.isSome(settled)) return settled.value
            if ((yield* Clock.currentTimeMillis) >= deadline) {
              return yield* new PaymentInProgress({
                paymentId: id,
                operation,
                detail: `Another ${operation} of payment ${id} is in flight; retry later for its outcome`
              })
            }
            yield* Effect.sleep(pollInterval)
          }
        })

      const claim = (record: PaymentRecord, action: ClaimAction, claimToken: string) =>
        Effect.flatMap(now, (at) =>
          repo.claim({
            id: record.id,
            from: record.status,
            action,
            claimToken,
            now: at,
            staleBefore: new Date(at.getTime() - pendingMillis)
          })
        )

      /**
       * Calls the processor under a claim this request holds and records the outcome; `none`
       * if the claim was taken over meanwhile (the successor records the outcome). A failure
       * or an interruption gives the claim back.
       */
      const underClaim = <A, E>(
        record: PaymentRecord,
        claimToken: string,
        call: Effect.Effect<A, E>,
        completion: (result: A) => Completion
      ): Effect.Effect<Option.Option<PaymentRecord>, E> =>
        call.pipe(
          Effect.onError(() => repo.release({ id: record.id, claimToken })),
          Effect.flatMap((result) =>
            Effect.flatMap(now, (at) =>
              repo.complete({ id: record.id, claimToken, completion: completion(result), now: at })
            )
          )
        )

      const find = (id: OrderId) =>
        Effect.flatMap(repo.find(id), (record) =>
          Option.match(record, {
            onNone: () => Effect.fail(new PaymentNotFound({ paymentId: id, detail: `No payment ${id}` })),
            onSome: Effect.succeed
          })
        )

      const authorizationOf = (record: PaymentRecord) =>
        record.authorization === undefined
          ? Effect.die(new Error(`payment ${record.id} is ${record.status} without an authorization`))
          : Effect.succeed(record.authorization)

      const invalidState = (record: PaymentRecord, operation: PaymentOperation) =>
        Effect.fail(
          new InvalidPaymentState({
            paymentId: record.id,
            operation,
            currentState: record.status,
            detail: `Payment ${record.id} is ${record.status}; it cannot be ${past[operation]}`
          })
        )

      const authorize = Effect.fn("Payments.authorize")(function* (request: AuthorizeRequest) {
        const id = request.paymentId
        const tokenHash = hashToken(request.token)
        const claimToken = crypto.randomUUID()
        const callProcessor = (record: PaymentRecord) =>
          underClaim(
            record,
            claimToken,
            gateway.authorize({ paymentId: id, amount: request.amount, token: request.token }),
            (outcome): Completion =>
              outcome._tag === "Approved"
                ? { status: "AUTHORIZED", authorization: outcome.authorization }
                : { status: "DECLINED", declineReason: outcome.reason }
          )

        const existing = Effect.gen(function* () {
          const record = yield* Effect.flatMap(repo.find(id), (record) =>
            Option.isSome(record)
              ? Effect.succeed(record.value)
              : Effect.die(new Error(`payment ${id} vanished`))
          )
          const mismatched = [
            ...(record.amount.amount === request.amount.amount ? [] : (["amount"] as const)),
            ...(record.amount.currency === request.amount.currency ? [] : (["currency"] as const)),
            ...(record.tokenHash === tokenHash ? [] : (["token"] as const))
          ]
          if (mismatched.length > 0) {
            return yield* new PaymentMismatch({
              paymentId: id,
              mismatched,
              detail: `Payment ${id} exists with a different ${mismatched.join(", ")}`
            })
          }
          if (record.status !== "PENDING") return Option.some(record)
          const claimed = yield* claim(record, "authorize", claimToken)
          return Option.isSome(claimed) ? yield* callProcessor(claimed.value) : Option.none()
        })

        const inserted = yield* repo.insertPending({
          id,
          amount: request.amount,
          tokenHash,
          claimToken,
          now: yield* now
        })
        const outcome = Option.isSome(inserted) ? yield* callProcessor(inserted.value) : Option.none()
        const record = Option.isSome(outcome) ? outcome.value : yield* settle(id, "authorize", existing)
        if (record.status === "DECLINED") {
          const reason = record.declineReason ?? "card_declined"
          return yield* new PaymentDeclined({
            paymentId: id,
            reason,
            detail: `The processor declined payment ${id}: ${reason}`
          })
        }
        return toPayment(record)
      })

      const get = Effect.fn("Payments.get")(function* (id: OrderId) {
        return toPayment(yield* find(id))
      })

      const capture = Effect.fn("Payments.capture")(function* (id: OrderId) {
        const claimToken = crypto.randomUUID()
        const step = Effect.gen(function* () {
          const record = yield* find(id)
          switch (record.status) {
            case "CAPTURED":
              return Option.some(record)
            case "AUTHORIZED": {
              const claimed = yield* claim(record, "capture", claimToken)
              if (Option.isNone(claimed)) return Option.none()
              const authorization = yield* authorizationOf(claimed.value)
              return yield* underClaim(
                claimed.value,
                claimToken,
                gateway.capture({ paymentId: id, authorization, amount: record.amount }),
                (): Completion => ({ status: "CAPTURED" })
              )
            }
            default:
              return yield* invalidState(record, "capture")
          }
        })
        return toPayment(yield* settle(id, "capture", step))
      })

      const void_ = Effect.fn("Payments.void")(function* (id: OrderId) {
        const claimToken = crypto.randomUUID()
        const step = Effect.gen(function* () {
          const record = yield* find(id)
          switch (record.status) {
            case "VOIDED":
            case "REFUNDED":
              return Option.some(record)
            case "AUTHORIZED": {
              const claimed = yield* claim(record, "void", claimToken)
              if (Option.isNone(claimed)) return Option.none()
              const authorization = yield* authorizationOf(claimed.value)
              return yield* underClaim(
                claimed.value,
                claimToken,
                gateway.void({ paymentId: id, authorization }),
                (): Completion => ({ status: "VOIDED" })
              )
            }
            case "CAPTURED": {
              const claimed = yield* claim(record, "refund", claimToken)
              if (Option.isNone(claimed)) return Option.none()
              const authorization = yield* authorizationOf(claimed.value)
              return yield* underClaim(
                claimed.value,
                claimToken,
                gateway.refund({ paymentId: id, authorization, amount: record.amount }),
                (): Completion => ({ status: "REFUNDED" })
              )
            }
            default:
              return yield* invalidState(record, "void")
          }
        })
        return toPayment(yield* settle(id, "void", step))
      })

      const voidAbandoned = Effect.fn("Payments.voidAbandoned")(function* (id: OrderId) {
        const record = yield* repo.find(id)
        if (Option.isNone(record) || record.value.status !== "AUTHORIZED") return false
        const claimToken = crypto.randomUUID()
        const claimed = yield* claim(record.value, "void", claimToken)
        if (Option.isNone(claimed)) return false
        const authorization = yield* authorizationOf(claimed.value)
        const voided = yield* underClaim(
          claimed.value,
          claimToken,
          gateway.void({ paymentId: id, authorization }),
          (): Completion => ({ status: "VOIDED" })
        )
        return Option.isSome(voided)
      })

      return Payments.of({ authorize, get, capture, void: void_, voidAbandoned })
    })
  )
}
