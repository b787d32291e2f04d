/**
 * The processor as the payments feature calls it: one `Downstream` (`@acme/resilience`, the same
 * helper the services' HTTP clients are built with), so every call gets the `transient` retry
 * policy, the processor's circuit breaker and the per-attempt `PROCESSOR_TIMEOUT`. Every request
 * carries an idempotency key, so every request may be retried; only transient failures are
 * (`ProcessorError`, timeouts), and while the circuit is open calls fail at once without reaching
 * the processor. Whatever still fails becomes the contract's `ProcessorUnavailable` (503 with
 * `Retry-After`).
 */
import type { ChargeAmount } from "@acme/contracts/payment"
import { ProcessorUnavailable } from "@acme/contracts/payment"
import { Downstream, DownstreamUnavailable, RetryPolicy } from "@acme/resilience"
import { Context, Duration, Effect, Layer } from "effect"
import * as Settings from "../Settings.ts"
import type { AuthorizeOutcome, Operation } from "./Processor.ts"
import { Processor, ProcessorError } from "./Processor.ts"

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
    /** The state of the processor's circuit, for diagnostics and tests. */
    readonly breaker: Effect.Effect<"Closed" | "Open" | "HalfOpen">
  }
>()("payment/ProcessorGateway") {
  static readonly layer = Layer.effect(
    ProcessorGateway,
    Effect.gen(function* () {
      const processor = yield* Processor
      const { downstream } = yield* Downstream.make({
        name: "processor",
        ...(yield* Settings.processor),
        retry: RetryPolicy.transient,
        isTransient: (error) => error instanceof ProcessorError
      })

      /** One processor request, keyed `<payment id>:<operation>` so repeating it is safe. */
      const call = <A>(
        operation: Operation,
        paymentId: string,
        effect: (key: string) => Effect.Effect<A, ProcessorError>
      ) =>
        downstream.run(effect(`${paymentId}:${operation}`), { idempotent: true }).pipe(
          Effect.catch((error) =>
            Effect.logWarning("processor unavailable").pipe(
              Effect.annotateLogs({ operation, paymentId, error: String(error) }),
              Effect.andThen(
                Effect.fail(
                  new ProcessorUnavailable({
                    retryAfterSeconds:
                      error instanceof DownstreamUnavailable
                        ? Math.max(1, Math.ceil(Duration.toSeconds(error.retryAfter)))
                        : 1,
                    detail: `The card processor did not answer the ${operation}; nothing was changed`
                  })
                )
              )
            )
          ),
          Effect.withSpan(`ProcessorGateway.${operation}`, { attributes: { paymentId } })
        )

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
        breaker: downstream.state
      })
    })
  )
}
