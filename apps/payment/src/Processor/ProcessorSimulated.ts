/**
 * A simulated card processor, so load and fault tests can make the processor slow or broken
 * without a real PSP. Its behaviour is read from a `Ref` on every call, so a test (or an
 * operator, later) can change it while the service runs:
 *
 * - latency: `PROCESSOR_LATENCY` plus a uniform `[0, PROCESSOR_JITTER)` per call;
 * - `PROCESSOR_ERROR_RATE` (0..1): the share of calls that fail with a transient error after
 *   the latency;
 * - decline rules: `tok_visa` approves up to `PROCESSOR_AMOUNT_LIMIT` minor units and declines
 *   above with `amount_too_large`; `tok_decline` declines with `card_declined`,
 *   `tok_insufficient_funds` with `insufficient_funds`; any other token with `invalid_token`
 *   (the service does not know which tokens exist: the processor issued them).
 *
 * Time and randomness come from Effect's `Clock` and `Random`, so `TestClock` and
 * `Random.withSeed` make it deterministic. It counts the calls that reached it, per operation.
 */
import type { ChargeAmount } from "@acme/contracts/payment"
import { Context, Duration, Effect, Layer, Random, Ref } from "effect"
import * as Settings from "../Settings.ts"
import type { SimulationSettings } from "../Settings.ts"
import type { AuthorizeOutcome, Operation } from "./Processor.ts"
import { Processor, ProcessorError } from "./Processor.ts"

export type { SimulationSettings } from "../Settings.ts"

export const defaultSettings: SimulationSettings = Settings.simulationDefaults

export type CallCounts = Readonly<Record<Operation, number>>

const noCalls: CallCounts = { authorize: 0, capture: 0, void: 0, refund: 0 }

/** The simulation's knobs and counters, shared by the simulated processor and tests. */
export class ProcessorSimulation extends Context.Service<
  ProcessorSimulation,
  {
    readonly settings: Ref.Ref<SimulationSettings>
    /** Calls that reached the processor (breaker-rejected calls never do), per operation. */
    readonly calls: Ref.Ref<CallCounts>
  }
>()("payment/ProcessorSimulation") {
  /** Settings from the environment (`PROCESSOR_*`). */
  static readonly layerConfig = Layer.effect(
    ProcessorSimulation,
    Effect.gen(function* () {
      return yield* ProcessorSimulation.make(yield* Settings.simulation)
    })
  )

  /** Given settings (the defaults for the others); for tests. */
  static readonly layer = (settings: Partial<SimulationSettings> = {}) =>
    Layer.effect(ProcessorSimulation, ProcessorSimulation.make({ ...defaultSettings, ...settings }))

  static readonly make = (settings: SimulationSettings) =>
    Effect.all({ settings: Ref.make(settings), calls: Ref.make(noCalls) }).pipe(
      Effect.map((refs) => ProcessorSimulation.of(refs))
    )
}

/** What the simulated processor answers to an authorization, by its decline rules. */
export const decide = (
  settings: SimulationSettings,
  amount: ChargeAmount,
  token: string
): AuthorizeOutcome => {
  switch (token) {
    case "tok_visa":
      return amount.amount > settings.amountLimit
        ? { _tag: "Declined", reason: "amount_too_large" }
        : { _tag: "Approved", authorization: `auth_${crypto.randomUUID()}` }
    case "tok_decline":
      return { _tag: "Declined", reason: "card_declined" }
    case "tok_insufficient_funds":
      return { _tag: "Declined", reason: "insufficient_funds" }
    default:
      return { _tag: "Declined", reason: "invalid_token" }
  }
}

/** The simulated processor, driven by {@link ProcessorSimulation}. */
export const layer = Layer.effect(
  Processor,
  Effect.gen(function* () {
    const simulation = yield* ProcessorSimulation

    /** One call: counted, delayed by the latency, failed at the error rate. */
    const call = Effect.fnUntraced(function* (operation: Operation) {
      const settings = yield* Ref.get(simulation.settings)
      yield* Ref.update(simulation.calls, (calls) => ({ ...calls, [operation]: calls[operation] + 1 }))
      const jitter = Duration.toMillis(settings.jitter)
      const delay =
        Duration.toMillis(settings.latency) + (jitter > 0 ? yield* Random.nextBetween(0, jitter) : 0)
      if (delay > 0) yield* Effect.sleep(Duration.millis(delay))
      if (settings.errorRate > 0 && (yield* Random.next) < settings.errorRate) {
        return yield* new ProcessorError({ operation, message: "simulated processor error" })
      }
      return settings
    })

    return Processor.of({
      authorize: ({ amount, token }) =>
        Effect.map(call("authorize"), (settings) => decide(settings, amount, token)),
      capture: () => Effect.asVoid(call("capture")),
      void: () => Effect.asVoid(call("void")),
      refund: () => Effect.asVoid(call("refund"))
    })
  })
)
