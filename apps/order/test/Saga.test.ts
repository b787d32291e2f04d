/**
 * The saga's pure state machine: every (state, outcome) pair it handles, what it leads to, and
 * that every other pair is refused (`Unexpected`) rather than guessed at. Plus the cancellation
 * rule, and whole runs (happy path, each failure, each cancel) walked step by step.
 */
import { Sku } from "@acme/contracts"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration } from "effect"
import type { Next, Outcome, SagaState, Step } from "../src/Saga/Saga.ts"
import { cancel, initial, transition } from "../src/Saga/Saga.ts"

const eur = (amount: number) => ({ amount, currency: "EUR" })
const reserved = (amount = 1000): Outcome => ({
  _tag: "Reserved",
  items: [{ sku: Sku.make("BOLT-M8"), quantity: 1, unitPrice: eur(amount) }],
  total: eur(amount)
})

const outcomes: ReadonlyArray<Outcome> = [
  reserved(),
  { _tag: "OutOfStock" },
  { _tag: "UnknownSku" },
  { _tag: "ReservationRefused" },
  { _tag: "Authorized" },
  { _tag: "Declined", reason: "card_declined" },
  { _tag: "Committed" },
  { _tag: "CommitRefused" },
  { _tag: "Captured" },
  { _tag: "CaptureRefused" },
  { _tag: "Voided" },
  { _tag: "Released" },
  { _tag: "Returned" },
  { _tag: "StillCommitted" },
  { _tag: "NotCommitted" },
  { _tag: "DeadLettered" },
  { _tag: "CancelRequested" }
]
const outcome = (tag: Outcome["_tag"]) => outcomes.find((o) => o._tag === tag)!

/** A saga at each step, as the forward path leaves it. */
const at: Record<Step | "done", SagaState> = {
  reserve: initial,
  authorize: { ...initial, step: "authorize", stock: "reserved" },
  commit: { ...initial, step: "commit", stock: "reserved", payment: "authorized" },
  capture: { ...initial, step: "capture", stock: "committed", payment: "authorized" },
  void: {
    ...initial,
    step: "void",
    stock: "reserved",
    payment: "maybe",
    ending: { status: "REJECTED", reason: "payment_unavailable" }
  },
  release: {
    ...initial,
    step: "release",
    stock: "reserved",
    ending: { status: "REJECTED", reason: "payment_declined", declineReason: "card_declined" }
  },
  return: {
    ...initial,
    step: "return",
    stock: "committed",
    payment: "voided",
    ending: { status: "REJECTED", reason: "payment_unavailable" }
  },
  done: { ...initial, step: "done", status: "CONFIRMED", stock: "committed", payment: "captured" }
}

const run = (step: Step): Next => ({ _tag: "Run", step })
const rejected = (reason: string, declineReason?: string): Next => ({
  _tag: "Done",
  status: "REJECTED",
  reason: reason as never,
  ...(declineReason === undefined ? {} : { declineReason })
})
const cancelledDone: Next = { _tag: "Done", status: "CANCELLED", reason: "cancelled_by_customer" }

/**
 * Every pair the machine handles, from the states above, and what comes next. Any pair not
 * listed here must be `Unexpected`.
 */
const handled: Record<Step | "done", Partial<Record<Outcome["_tag"], Next>>> = {
  reserve: {
    Reserved: run("authorize"),
    OutOfStock: rejected("out_of_stock"),
    UnknownSku: rejected("unknown_sku"),
    ReservationRefused: rejected("inventory_unavailable"),
    DeadLettered: run("release"),
    CancelRequested: run("release")
  },
  authorize: {
    Authorized: run("commit"),
    Declined: run("release"),
    DeadLettered: run("void"),
    CancelRequested: run("void")
  },
  commit: {
    Committed: run("capture"),
    CommitRefused: run("void"),
    DeadLettered: run("void"),
    CancelRequested: run("void")
  },
  capture: {
    Captured: { _tag: "Done", status: "CONFIRMED" },
    CaptureRefused: run("void"),
    DeadLettered: run("void"),
    CancelRequested: run("void")
  },
  void: { Voided: run("release") },
  release: {
    Released: rejected("payment_declined", "card_declined"),
    StillCommitted: run("return")
  },
  return: {
    Returned: rejected("payment_unavailable"),
    NotCommitted: run("release")
  },
  done: {}
}

describe("Saga.transition", () => {
  it("handles exactly the listed (state, outcome) pairs and refuses every other", () => {
    for (const [step, state] of Object.entries(at)) {
      for (const o of outcomes) {
        const expected = handled[step as Step | "done"][o._tag] ?? { _tag: "Unexpected" }
        const { next, state: after } = transition(state, o)
        assert.deepStrictEqual(next, expected, `${step} + ${o._tag}`)
        if (next._tag === "Unexpected")
          assert.strictEqual(after, state, `${step} + ${o._tag} keeps the state`)
        if (next._tag === "Run") assert.strictEqual(after.step, next.step)
        if (next._tag === "Done") {
          assert.strictEqual(after.step, "done")
          assert.strictEqual(after.status, next.status)
        }
      }
    }
  })

  it("reserve: a priced reservation records the stock; a zero total skips the payment steps", () => {
    const paid = transition(at.reserve, reserved(1000))
    assert.deepStrictEqual(paid.state, { ...initial, step: "authorize", stock: "reserved", charge: true })
    const free = transition(at.reserve, reserved(0))
    assert.deepStrictEqual(free.next, run("commit"))
    assert.isFalse(free.state.charge)
    // ... and confirms right after the commit, with nothing to capture.
    assert.deepStrictEqual(transition(free.state, outcome("Committed")).next, {
      _tag: "Done",
      status: "CONFIRMED"
    })
  })

  it("reserve: business refusals end the order with nothing to compensate", () => {
    for (const [tag, reason] of [
      ["OutOfStock", "out_of_stock"],
      ["UnknownSku", "unknown_sku"],
      ["ReservationRefused", "inventory_unavailable"]
    ] as const) {
      const { state } = transition(at.reserve, outcome(tag))
      assert.deepStrictEqual(state, {
        ...initial,
        step: "done",
        status: "REJECTED",
        ending: { status: "REJECTED", reason }
      })
    }
  })

  it("a dead-lettered or pre-empted step is compensated as if it may have happened", () => {
    // reserve: maybe reserved -> release
    assert.strictEqual(transition(at.reserve, outcome("DeadLettered")).state.stock, "maybe")
    // authorize: maybe authorized -> void, then release
    const unpaid = transition(at.authorize, outcome("DeadLettered"))
    assert.strictEqual(unpaid.state.payment, "maybe")
    assert.deepStrictEqual(unpaid.state.ending, { status: "REJECTED", reason: "payment_unavailable" })
    // commit: maybe committed -> void, release (which becomes a return if it was committed)
    const uncommitted = transition(at.commit, outcome("DeadLettered"))
    assert.strictEqual(uncommitted.state.stock, "maybe")
    assert.deepStrictEqual(uncommitted.state.ending, { status: "REJECTED", reason: "inventory_unavailable" })
    // capture: maybe captured -> void (a refund if it was), return
    const uncaptured = transition(at.capture, outcome("DeadLettered"))
    assert.strictEqual(uncaptured.state.payment, "maybe")
    assert.deepStrictEqual(transition(uncaptured.state, outcome("Voided")).next, run("return"))
  })

  it("a cancel remembered during a forward step wins when its outcome arrives", () => {
    const pending = (state: SagaState): SagaState => ({ ...state, cancelRequested: true })
    const cases: ReadonlyArray<readonly [Step, Outcome["_tag"], Next]> = [
      ["reserve", "Reserved", run("release")],
      ["reserve", "OutOfStock", cancelledDone],
      ["reserve", "UnknownSku", cancelledDone],
      ["reserve", "DeadLettered", run("release")],
      ["authorize", "Authorized", run("void")],
      ["authorize", "Declined", run("release")],
      ["commit", "Committed", run("void")],
      ["commit", "CommitRefused", run("void")],
      ["capture", "Captured", run("void")]
    ]
    for (const [step, tag, next] of cases) {
      const result = transition(pending(at[step]), outcome(tag))
      assert.deepStrictEqual(result.next, next, `${step} + ${tag}`)
      if (result.next._tag === "Run") {
        assert.deepStrictEqual(result.state.ending, { status: "CANCELLED", reason: "cancelled_by_customer" })
      }
    }
  })

  it("compensations run payment first, then stock, and turn into each other when inventory says so", () => {
    const ending = { status: "REJECTED", reason: "payment_unavailable" } as const
    const base: SagaState = { ...initial, ending }
    assert.deepStrictEqual(
      transition({ ...base, step: "void", stock: "committed" }, outcome("Voided")).next,
      run("return")
    )
    assert.deepStrictEqual(
      transition({ ...base, step: "void", stock: "given_back" }, outcome("Voided")).next,
      rejected("payment_unavailable")
    )
    assert.deepStrictEqual(
      transition({ ...base, step: "release", stock: "maybe" }, outcome("StillCommitted")).next,
      run("return")
    )
    assert.deepStrictEqual(
      transition({ ...base, step: "return", stock: "committed" }, outcome("NotCommitted")).next,
      run("release")
    )
  })

  it("a CONFIRMED order stays CONFIRMED while its cancellation runs, then ends CANCELLED", () => {
    let state: SagaState = {
      ...at.done,
      cancelRequested: true,
      ending: { status: "CANCELLED", reason: "cancelled_by_customer" },
      step: "void"
    }
    let result = transition(state, outcome("Voided"))
    assert.deepStrictEqual(result.next, run("return"))
    assert.strictEqual(result.state.status, "CONFIRMED")
    state = result.state
    result = transition(state, outcome("Returned"))
    assert.deepStrictEqual(result.next, cancelledDone)
    assert.strictEqual(result.state.status, "CANCELLED")
  })
})

/** Walks a saga from its start through the given outcomes; the steps it ran and how it ended. */
const walk = (start: SagaState, outcomesInOrder: ReadonlyArray<Outcome>) => {
  let state = start
  const steps: Array<string> = []
  let last: Next | undefined
  for (const o of outcomesInOrder) {
    const result = transition(state, o)
    state = result.state
    last = result.next
    steps.push(result.next._tag === "Run" ? result.next.step : result.next._tag)
  }
  return { state, steps, last }
}

describe("Saga runs", () => {
  it("happy path: reserve -> authorize -> commit -> capture -> CONFIRMED", () => {
    const { steps, last, state } = walk(initial, [
      reserved(),
      outcome("Authorized"),
      outcome("Committed"),
      outcome("Captured")
    ])
    assert.deepStrictEqual(steps, ["authorize", "commit", "capture", "Done"])
    assert.deepStrictEqual(last, { _tag: "Done", status: "CONFIRMED" })
    assert.deepStrictEqual(state, {
      ...initial,
      step: "done",
      status: "CONFIRMED",
      stock: "committed",
      payment: "captured"
    })
  })

  it("declined: release the stock, REJECTED payment_declined with the reason", () => {
    const { steps, last } = walk(initial, [
      reserved(),
      { _tag: "Declined", reason: "insufficient_funds" },
      outcome("Released")
    ])
    assert.deepStrictEqual(steps, ["authorize", "release", "Done"])
    assert.deepStrictEqual(last, rejected("payment_declined", "insufficient_funds"))
  })

  it("payment unavailable: void (even if never authorized), release, REJECTED payment_unavailable", () => {
    const { steps, last } = walk(initial, [
      reserved(),
      outcome("DeadLettered"),
      outcome("Voided"),
      outcome("Released")
    ])
    assert.deepStrictEqual(steps, ["authorize", "void", "release", "Done"])
    assert.deepStrictEqual(last, rejected("payment_unavailable"))
  })

  it("capture unavailable: void (refund if captured), return the committed stock", () => {
    const { steps, last } = walk(initial, [
      reserved(),
      outcome("Authorized"),
      outcome("Committed"),
      outcome("DeadLettered"),
      outcome("Voided"),
      outcome("Returned")
    ])
    assert.deepStrictEqual(steps, ["authorize", "commit", "capture", "void", "return", "Done"])
    assert.deepStrictEqual(last, rejected("payment_unavailable"))
  })

  it("an expired reservation at commit: void the payment, REJECTED inventory_unavailable", () => {
    const { steps, last } = walk(initial, [
      reserved(),
      outcome("Authorized"),
      outcome("CommitRefused"),
      outcome("Voided")
    ])
    assert.deepStrictEqual(steps, ["authorize", "commit", "void", "Done"])
    assert.deepStrictEqual(last, rejected("inventory_unavailable"))
  })
})

describe("Saga.cancel", () => {
  const now = DateTime.makeUnsafe("2026-01-01T12:00:00Z")
  const window = Duration.minutes(30)
  const confirmed = { ...at.done }
  const minutesAgo = (minutes: number) => DateTime.subtract(now, { minutes })

  it("PENDING in a forward step: remembered (pre-empting is the runner's call)", () => {
    for (const step of ["reserve", "authorize", "commit", "capture"] as const) {
      const decision = cancel(at[step], { now, confirmedAt: undefined, window })
      assert.strictEqual(decision._tag, "Requested", step)
      if (decision._tag === "Requested") assert.isTrue(decision.state.cancelRequested)
    }
  })

  it("PENDING and already compensating, or already cancelling: unchanged", () => {
    for (const state of [at.void, at.release, at.return, { ...at.authorize, cancelRequested: true }]) {
      assert.strictEqual(cancel(state, { now, confirmedAt: undefined, window })._tag, "Unchanged")
    }
  })

  it("CANCELLED answers as it is; REJECTED is refused", () => {
    const cancelledState: SagaState = { ...initial, step: "done", status: "CANCELLED" }
    assert.strictEqual(cancel(cancelledState, { now, confirmedAt: undefined, window })._tag, "Unchanged")
    const rejectedState: SagaState = { ...initial, step: "done", status: "REJECTED" }
    assert.strictEqual(cancel(rejectedState, { now, confirmedAt: undefined, window })._tag, "Refused")
  })

  it("CONFIRMED within the window (inclusive): refund, then return, then CANCELLED", () => {
    for (const ago of [0, 29, 30]) {
      const decision = cancel(confirmed, { now, confirmedAt: minutesAgo(ago), window })
      assert.strictEqual(decision._tag, "Compensate", `${ago} minutes`)
      if (decision._tag !== "Compensate") continue
      assert.deepStrictEqual(decision.transition.next, run("void"))
      assert.strictEqual(decision.transition.state.status, "CONFIRMED")
      const { steps, last } = walk(decision.transition.state, [outcome("Voided"), outcome("Returned")])
      assert.deepStrictEqual(steps, ["return", "Done"])
      assert.deepStrictEqual(last, cancelledDone)
    }
  })

  it("CONFIRMED past the window, or with no confirmation time: refused", () => {
    assert.strictEqual(cancel(confirmed, { now, confirmedAt: minutesAgo(31), window })._tag, "Refused")
    assert.strictEqual(cancel(confirmed, { now, confirmedAt: undefined, window })._tag, "Refused")
  })

  it("a pre-empted step is compensated: void and release for an authorization in doubt", () => {
    const { steps, last } = walk(at.authorize, [
      outcome("CancelRequested"),
      outcome("Voided"),
      outcome("Released")
    ])
    assert.deepStrictEqual(steps, ["void", "release", "Done"])
    assert.deepStrictEqual(last, cancelledDone)
  })
})
