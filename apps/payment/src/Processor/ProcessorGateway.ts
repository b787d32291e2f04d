/**
 * The processor as the payments feature calls it: every call goes through one `Downstream`
 * (per-attempt timeout `PROCESSOR_TIMEOUT`, a circuit breaker, a bulkhead) under the
 * `transient` retry policy, so only transient failures (processor errors, timeouts) are
 * retried, and while the breaker is open calls fail at once without reaching the processor.
 * Whatever still fails becomes the contract's `ProcessorUnavailable` (503 with Retry-After).
 */
import type { ChargeAmount } from "@acme/contracts/payment"
import { ProcessorUnavailable } from "@acme/contracts/payment"
import type { CircuitBreaker } from "@acme/resilience"
import { CircuitOpen, Downstream, resilient, RetryPolicy } from "@acme/resilience"
import { Config, Context, Duration, Effect, Layer } from "effect"
import type { AuthorizeOutcome, Operation } from "./Processor.ts"
import { Processor } from "./Processor.ts"

/** The downstream settings from the environment, defaults next to the keys. */
export const downstreamConfig = Config.all({
  timeout: Config.Duration("PROCESSOR_TIMEOUT").pipe(Config.withDefault(Duration.seconds(2))),
  breakerFailures: Config.Int("PROCESSOR_BREAKER_FAILURES").pipe(Config.withDefault(5)),
  breakerOpen: Config.Duration("PROCESSOR_BREAKER_OPEN").pipe(Config.withDefault(Duration.seconds(10)))
})

/** Seconds to send in `Retry-After`: until the breaker probes again, else one second. */
const retryAfterSeconds = (error: unknown): number =>
  error instanceof CircuitOpen ? Math.max(1, Math.ceil(Duration.toSeconds(error.retryAfter))) : 1

export class ProcessorGateway extends Context.Service<
  ProcessorGateway,
  {
    readonly authorize: (request: {
      readonly paymentId: string
      readonly amount: ChargeAmount
      readonly token: string
    }) => Effect.Effect<AuthorizeOutcome, ProcessorUnavailable>
    readonly capture: (request: {
      readonly paymentId: string
      readonly authorization: string
      readonly amount: ChargeAmount
    }) => Effect.Effect<void, ProcessorUnavailable>
    readonly void: (request: {
      readonly paymentId: string
      readonly authorization: string
    }) => Effect.Effect<void, ProcessorUnavailable>
    readonly refund: (request: {
      readonly paymentId: string
      readonly authorization: string
      readonly amount: ChargeAmount
    }) => Effect.Effect<void, ProcessorUnavailable>
    /** The breaker's state, for readiness-style diagnostics and tests. */
    readonly breaker: Effect.Effect<CircuitBreaker.State>
  }
>()("payment/ProcessorGateway") {
  static readonly layer = Layer.effect(
    ProcessorGateway,
    Effect.gen(function* () {
      const processor = yield* Processor
      const config = yield* downstreamConfig
      const downstream = yield* Downstream.make({
        name: "processor",
        timeout: config.timeout,
        circuitBreaker: { consecutiveFailures: config.breakerFailures, openDuration: config.breakerOpen }
      })

      /**
       * One processor request. The processor deduplicates by the idempotency key, which is
       * what makes retrying a non-idempotent request (a POST) safe.
       */
      const call = <A, E>(
        operation: Operation,
        paymentId: string,
        effect: (key: string) => Effect.Effect<A, E>
      ) => {
        const idempotencyKey = `${paymentId}:${operation}`
        return effect(idempotencyKey).pipe(
          resilient(downstream, RetryPolicy.transient, { request: { method: "POST", idempotencyKey } }),
          Effect.catch((error) =>
            Effect.logWarning("processor unavailable").pipe(
              Effect.annotateLogs({ operation, paymentId, error: String(error) }),
              Effect.andThen(
                Effect.fail(
                  new ProcessorUnavailable({
                    retryAfterSeconds: retryAfterSeconds(error),
                    detail: `The card processor did not answer the ${operation}; nothing was changed`
                  })
                )
              )
            )
          ),
          Effect.withSpan(`ProcessorGateway.${operation}`, { attributes: { paymentId } })
        )
      }

      return ProcessorGateway.of({
        authorize: ({ amount, paymentId, token }) =>
          call("authorize", paymentId, (idempotencyKey) =>
            processor.authorize({ idempotencyKey, amount, token })
          ),
        capture: ({ amount, authorization, paymentId }) =>
          call("capture", paymentId, (idempotencyKey) =>
            processor.capture({ idempotencyKey, authorization, amount })
          ),
        void: ({ authorization, paymentId }) =>
          call("void", paymentId, (idempotencyKey) => processor.void({ idempotencyKey, authorization })),
        refund: ({ amount, authorization, paymentId }) =>
          call("refund", paymentId, (idempotencyKey) =>
            processor.refund({ idempotencyKey, authorization, amount })
          ),
        breaker:
          downstream.circuitBreaker === undefined ? Effect.succeed("closed") : downstream.circuitBreaker.state
      })
    })
  )
}
