/**
 * The order saga as a pure state machine: `transition(state, outcome)` is the whole of its
 * logic, with no I/O, so every (state, outcome) pair is a unit test. The runner
 * (`SagaRunner.ts`) persists the new state and enqueues the next step in one transaction.
 *
 * Forward: reserve stock -> authorize payment (the reservation's total) -> commit the
 * reservation -> capture the payment -> CONFIRMED. A zero total skips the payment steps.
 *
 * Compensation runs in reverse of what may be held: void the payment (a void after capture is a
 * refund), then give the stock back (release a reservation, return a committed one), then the
 * order ends REJECTED or CANCELLED with its reason. What "may be held" is tracked per resource:
 * a step that was dead-lettered or pre-empted by a cancel may or may not have taken effect
 * downstream (`maybe`), so it is compensated too; every compensation is idempotent and treats
 * "nothing there" as done, so compensating something that never happened is harmless.
 *
 * A cancel requested while a forward step is in flight is remembered (`cancelRequested`) and
 * wins when that step's outcome arrives: the order ends CANCELLED, whatever the outcome.
 */
import type { Money, Sku } from "@acme/contracts"
import { OrderReason, OrderStatus } from "@acme/contracts/order"
import { Duration, Schema } from "effect"
import type { DateTime } from "effect"

export const Step = Schema.Literals([
  "reserve",
  "authorize",
  "commit",
  "capture",
  "void",
  "release",
  "return"
])
export type Step = typeof Step.Type

export const isCompensation = (step: Step): step is "void" | "release" | "return" =>
  step === "void" || step === "release" || step === "return"

/**
 * What inventory may hold for the order: nothing, possibly a reservation (a step whose effect is
 * unknown), a reservation, a committed (sold) reservation, or stock already given back.
 */
export const StockHeld = Schema.Literals(["none", "maybe", "reserved", "committed", "given_back"])
export type StockHeld = typeof StockHeld.Type

/** What payment may hold: nothing, possibly an authorization or capture, one, or a voided one. */
export const PaymentHeld = Schema.Literals(["none", "maybe", "authorized", "captured", "voided"])
export type PaymentHeld = typeof PaymentHeld.Type

/** Why a saga ended other than CONFIRMED: the order's reason, as the contract defines it. */
export const EndReason = OrderReason
export type EndReason = OrderReason

/** How a compensated order ends. */
export const Ending = Schema.Struct({
  status: Schema.Literals(["REJECTED", "CANCELLED"]),
  reason: EndReason,
  declineReason: Schema.optionalKey(Schema.String)
})
export type Ending = typeof Ending.Type

/** The saga's state, stored with the order (`orders.saga`). */
export const SagaState = Schema.Struct({
  /** The step in flight (its command is the order's one pending outbox row), or `done`. */
  step: Schema.Union([Step, Schema.Literal("done")]),
  /** The order's status: PENDING until the saga ends (CONFIRMED while a confirmed order is cancelled). */
  status: OrderStatus,
  stock: StockHeld,
  payment: PaymentHeld,
  /** Whether there is anything to charge (false once a reservation prices the order at 0). */
  charge: Schema.Boolean,
  cancelRequested: Schema.Boolean,
  /** Set once the saga compensates: how it will end. */
  ending: Schema.optionalKey(Ending)
})
export type SagaState = typeof SagaState.Type

/** The outcome of a step, as the downstream answered it (or as the outbox gave up on it). */
export type Outcome =
  /** Reserved and priced: the items with their unit prices, and the total. */
  | {
      readonly _tag: "Reserved"
      readonly items: ReadonlyArray<{
        readonly sku: Sku
        readonly quantity: number
        readonly unitPrice: Money
      }>
      readonly total: Money
    }
  | { readonly _tag: "OutOfStock" }
  | { readonly _tag: "UnknownSku" }
  /** Inventory refused the reservation for another reason (mixed currencies, amount too large). */
  | { readonly _tag: "ReservationRefused" }
  | { readonly _tag: "Authorized" }
  | { readonly _tag: "Declined"; readonly reason: string }
  | { readonly _tag: "Committed" }
  /** The reservation is no longer held (it expired and was released): nothing to commit. */
  | { readonly _tag: "CommitRefused" }
  | { readonly _tag: "Captured" }
  /** The payment cannot be captured (it is not authorized). */
  | { readonly _tag: "CaptureRefused" }
  /** The payment is voided or refunded, or there was nothing to void. */
  | { readonly _tag: "Voided" }
  /** The reservation is released, or there was nothing to release. */
  | { readonly _tag: "Released" }
  /** The committed reservation is returned, or there was nothing to return. */
  | { readonly _tag: "Returned" }
  /** A release found the reservation committed: it must be returned instead. */
  | { readonly _tag: "StillCommitted" }
  /** A return found the reservation only reserved: it must be released instead. */
  | { readonly _tag: "NotCommitted" }
  /** The outbox ran out of attempts for the step (the step may or may not have happened). */
  | { readonly _tag: "DeadLettered" }
  /** The customer cancelled while the step waited to be (re)delivered; it will not be. */
  | { readonly _tag: "CancelRequested" }

/** What follows a transition: run a step, finish the saga, or nothing (the outcome was not expected). */
export type Next =
  | { readonly _tag: "Run"; readonly step: Step }
  | {
      readonly _tag: "Done"
      readonly status: "CONFIRMED" | "REJECTED" | "CANCELLED"
      readonly reason?: EndReason
      readonly declineReason?: string
    }
  | { readonly _tag: "Unexpected" }

export interface Transition {
  readonly state: SagaState
  readonly next: Next
}

/** A new order's saga: reserving, nothing held. */
export const initial: SagaState = {
  step: "reserve",
  status: "PENDING",
  stock: "none",
  payment: "none",
  charge: true,
  cancelRequested: false
}

const cancelled: Ending = { status: "CANCELLED", reason: "cancelled_by_customer" }

const rejected = (reason: EndReason, declineReason?: string): Ending =>
  declineReason === undefined ? { status: "REJECTED", reason } : { status: "REJECTED", reason, declineReason }

const run = (state: SagaState, step: Step): Transition => ({
  state: { ...state, step },
  next: { _tag: "Run", step }
})

const confirm = (state: SagaState): Transition => ({
  state: { ...state, step: "done", status: "CONFIRMED" },
  next: { _tag: "Done", status: "CONFIRMED" }
})

const unexpected = (state: SagaState): Transition => ({ state, next: { _tag: "Unexpected" } })

/** The next compensation for what may still be held, or the end. */
const compensate = (state: SagaState, ending: Ending): Transition => {
  const next: SagaState = { ...state, ending }
  if (next.payment === "maybe" || next.payment === "authorized" || next.payment === "captured") {
    return run(next, "void")
  }
  if (next.stock === "maybe" || next.stock === "reserved") return run(next, "release")
  if (next.stock === "committed") return run(next, "return")
  return {
    state: { ...next, step: "done", status: ending.status },
    next: {
      _tag: "Done",
      status: ending.status,
      reason: ending.reason,
      ...(ending.declineReason === undefined ? {} : { declineReason: ending.declineReason })
    }
  }
}

/** A forward step failed: compensate, and end CANCELLED instead if the customer asked for it. */
const fail = (state: SagaState, ending: Ending): Transition =>
  compensate(state, state.cancelRequested ? cancelled : ending)

/** A forward step succeeded: go on, or compensate if the customer cancelled meanwhile. */
const proceed = (state: SagaState, onward: (state: SagaState) => Transition): Transition =>
  state.cancelRequested ? compensate(state, cancelled) : onward(state)

/** A cancel pre-empted the step: whatever it may have done is compensated. */
const preempted = (state: SagaState): SagaState => ({ ...state, cancelRequested: true })

/** The saga's next state and what to do next, given the outcome of the step in flight. */
export const transition = (state: SagaState, outcome: Outcome): Transition => {
  switch (state.step) {
    case "reserve":
      switch (outcome._tag) {
        case "Reserved": {
          const charge = outcome.total.amount > 0
          return proceed({ ...state, stock: "reserved", charge }, (s) =>
            run(s, charge ? "authorize" : "commit")
          )
        }
        case "OutOfStock":
          return fail(state, rejected("out_of_stock"))
        case "UnknownSku":
          return fail(state, rejected("unknown_sku"))
        case "ReservationRefused":
          return fail(state, rejected("inventory_unavailable"))
        case "DeadLettered":
          return fail({ ...state, stock: "maybe" }, rejected("inventory_unavailable"))
        case "CancelRequested":
          return compensate(preempted({ ...state, stock: "maybe" }), cancelled)
        default:
          return unexpected(state)
      }
    case "authorize":
      switch (outcome._tag) {
        case "Authorized":
          return proceed({ ...state, payment: "authorized" }, (s) => run(s, "commit"))
        case "Declined":
          return fail({ ...state, payment: "none" }, rejected("payment_declined", outcome.reason))
        case "DeadLettered":
          return fail({ ...state, payment: "maybe" }, rejected("payment_unavailable"))
        case "CancelRequested":
          return compensate(preempted({ ...state, payment: "maybe" }), cancelled)
        default:
          return unexpected(state)
      }
    case "commit":
      switch (outcome._tag) {
        case "Committed":
          return proceed({ ...state, stock: "committed" }, (s) => (s.charge ? run(s, "capture") : confirm(s)))
        case "CommitRefused":
          return fail({ ...state, stock: "none" }, rejected("inventory_unavailable"))
        // Possibly committed: the release finds out, and turns into a return if it was.
        case "DeadLettered":
          return fail({ ...state, stock: "maybe" }, rejected("inventory_unavailable"))
        case "CancelRequested":
          return compensate(preempted({ ...state, stock: "maybe" }), cancelled)
        default:
          return unexpected(state)
      }
    case "capture":
      switch (outcome._tag) {
        case "Captured":
          return proceed({ ...state, payment: "captured" }, confirm)
        // A void answers whatever state the payment is in: voided, refunded, or nothing to do.
        case "CaptureRefused":
        case "DeadLettered":
          return fail({ ...state, payment: "maybe" }, rejected("payment_unavailable"))
        case "CancelRequested":
          return compensate(preempted({ ...state, payment: "maybe" }), cancelled)
        default:
          return unexpected(state)
      }
    case "void":
      return outcome._tag === "Voided" && state.ending !== undefined
        ? compensate({ ...state, payment: "voided" }, state.ending)
        : unexpected(state)
    case "release":
      if (state.ending === undefined) return unexpected(state)
      switch (outcome._tag) {
        case "Released":
          return compensate({ ...state, stock: "given_back" }, state.ending)
        case "StillCommitted":
          return compensate({ ...state, stock: "committed" }, state.ending)
        default:
          return unexpected(state)
      }
    case "return":
      if (state.ending === undefined) return unexpected(state)
      switch (outcome._tag) {
        case "Returned":
          return compensate({ ...state, stock: "given_back" }, state.ending)
        case "NotCommitted":
          return compensate({ ...state, stock: "reserved" }, state.ending)
        default:
          return unexpected(state)
      }
    case "done":
      return unexpected(state)
  }
}

/** What a cancel request does to an order, given its saga. */
export type CancelDecision =
  /** The order can no longer be cancelled: REJECTED, or CONFIRMED longer ago than the window. */
  | { readonly _tag: "Refused" }
  /** Nothing to do: already CANCELLED, a cancel is under way, or the order is already compensating. */
  | { readonly _tag: "Unchanged" }
  /**
   * PENDING with a forward step: remembered. If the step's command is not being delivered right
   * now it is pre-empted (`transition(state, CancelRequested)`); otherwise its outcome decides.
   */
  | { readonly _tag: "Requested"; readonly state: SagaState }
  /** CONFIRMED within the window: refund and return the stock, then CANCELLED. */
  | { readonly _tag: "Compensate"; readonly transition: Transition }

/**
 * The cancellation rule. A PENDING order can always be cancelled; a CONFIRMED one within
 * `window` of its confirmation (inclusive); a REJECTED one never; a CANCELLED one answers as is.
 */
export const cancel = (
  state: SagaState,
  options: {
    readonly now: DateTime.Utc
    readonly confirmedAt: DateTime.Utc | undefined
    readonly window: Duration.Duration
  }
): CancelDecision => {
  if (state.cancelRequested || state.status === "CANCELLED") return { _tag: "Unchanged" }
  switch (state.status) {
    case "REJECTED":
      return { _tag: "Refused" }
    case "PENDING":
      return state.step !== "done" && !isCompensation(state.step)
        ? { _tag: "Requested", state: { ...state, cancelRequested: true } }
        : { _tag: "Unchanged" }
    case "CONFIRMED": {
      if (state.step !== "done") return { _tag: "Unchanged" }
      const confirmedAt = options.confirmedAt
      if (confirmedAt === undefined) return { _tag: "Refused" }
      const elapsed = options.now.epochMilliseconds - confirmedAt.epochMilliseconds
      return elapsed <= Duration.toMillis(options.window)
        ? { _tag: "Compensate", transition: compensate({ ...state, cancelRequested: true }, cancelled) }
        : { _tag: "Refused" }
    }
  }
}
