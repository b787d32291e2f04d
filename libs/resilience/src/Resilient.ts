/**
 * `resilient(...)`: the one wrapper for a call to a downstream.
 *
 * Layers, outermost first:
 *
 * ```text
 * metrics ─ bulkhead ─ retry ─┬─ circuit breaker ─ timeout ─ effect   (attempt 1)
 *                             ├─ circuit breaker ─ timeout ─ effect   (attempt 2)
 *                             └─ ...
 * ```
 *
 * 1. **Bulkhead** outermost: it bounds *logical* calls in flight, backoff
 *    sleeps included. A struggling downstream therefore cannot make the
 *    caller accumulate retrying calls without bound (a retry storm fills the
 *    bulkhead and new calls are shed at once with `BulkheadFull`), and a
 *    rejected call costs nothing below it.
 * 2. **Retry** outside the breaker (the brief suggested the reverse; this is
 *    the deliberate deviation). With the breaker inside, it sees *every*
 *    attempt, so it trips on real downstream health rather than on logical
 *    calls that already retried 3 times; once it opens, a call in the middle
 *    of its retries stops at the next attempt (`CircuitOpen` is not
 *    retryable) instead of sleeping and hammering on; and a half-open probe
 *    is one request, not a call holding the probe slot through its backoff.
 * 3. **Circuit breaker** around each attempt; an attempt it rejects never
 *    reaches the downstream.
 * 4. **Timeout** innermost, per attempt: a hung attempt is interrupted (its
 *    finalizers run), counted by the breaker as a (transient) failure, and
 *    retried if the policy allows. The overall budget is the policy's
 *    `maxElapsed`.
 *
 * Metrics (see `Metrics`): `resilience.call.count` by outcome,
 * `resilience.call.duration` (seconds, retries and backoff included),
 * `resilience.retry.attempts` (attempts that reached the effect) and
 * `resilience.retry.retries`.
 *
 * The wrapper is on every service-to-service call, so the hot path is kept
 * flat: all metric series, the decoded timeout and the primitives are built
 * once per `Downstream`; a call allocates its layers and a small counter
 * object, does no tracing, and writes its metrics in one synchronous step.
 *
 * @since 0.0.0
 */
import { Cause, Clock, Effect, Exit } from "effect"
import { dual } from "effect/Function"
import type * as Classify from "./Classify.ts"
import type { Downstream } from "./Downstream.ts"
import { BulkheadFull, CircuitOpen, TimeoutError } from "./Errors.ts"
import { DownstreamImpl } from "./internal/downstream.ts"
import { retryFrom, type RetryStats } from "./internal/retry.ts"
import { timeoutDecoded } from "./internal/timeout.ts"
import type * as Metrics from "./Metrics.ts"
import type { RetryPolicy } from "./RetryPolicy.ts"

/**
 * Per-call options.
 *
 * @since 0.0.0
 * @category models
 */
export interface CallOptions {
  /**
   * The request being made, when the failure will not say: a `POST` /
   * `PATCH` is only retried with an idempotency key (see
   * `Classify.RequestInfo`). An `HttpClientError` carries its own request.
   */
  readonly request?: Classify.RequestInfo | undefined
}

const outcomeOf = (exit: Exit.Exit<unknown, unknown>, downstream: string): Metrics.Outcome => {
  if (Exit.isSuccess(exit)) return "success"
  if (Cause.hasInterruptsOnly(exit.cause)) return "interrupted"
  const error = Cause.squash(exit.cause)
  // Only this downstream's own rejections: a CircuitOpen bubbling up from a
  // nested call to another downstream is an ordinary failure here.
  if (error instanceof CircuitOpen && error.breaker === downstream) return "circuit_open"
  if (error instanceof BulkheadFull && error.bulkhead === downstream) return "bulkhead_full"
  if (error instanceof TimeoutError) return "timeout"
  return "failure"
}

const run = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  downstream: DownstreamImpl,
  policy: RetryPolicy,
  request: Classify.RequestInfo | undefined
): Effect.Effect<A, E | CircuitOpen | BulkheadFull | TimeoutError, R> =>
  Effect.withFiber((fiber) => {
    const context = fiber.context
    const clock = fiber.getRef(Clock.Clock)
    const start = clock.monotonicTimeNanosUnsafe()
    let call: Effect.Effect<A, E | CircuitOpen | BulkheadFull | TimeoutError, R> = self
    if (downstream.timeout !== undefined) call = timeoutDecoded(call, downstream.timeout)
    if (downstream.circuitBreaker !== undefined) call = downstream.circuitBreaker.protect(call)
    // Attempts are derived rather than counted per attempt (one less layer
    // on the hot path): every retry is one more attempt, and only the last
    // attempt can be the one the breaker rejected, since CircuitOpen is never
    // retried.
    const stats: RetryStats | undefined = policy.maxAttempts > 1 ? { retries: 0 } : undefined
    if (stats !== undefined) {
      call = retryFrom(call, policy, request, stats, clock, clock.currentTimeMillisUnsafe())
    }
    if (downstream.bulkhead !== undefined) call = downstream.bulkhead.run(call)
    return Effect.onExitPrimitive(
      call,
      (exit) => {
        const outcome = outcomeOf(exit, downstream.name)
        const retries = stats === undefined ? 0 : stats.retries
        const attempts = outcome === "bulkhead_full" ? 0 : outcome === "circuit_open" ? retries : retries + 1
        downstream.calls[outcome].updateUnsafe(1, context)
        downstream.duration.updateUnsafe(Number(clock.monotonicTimeNanosUnsafe() - start) / 1e9, context)
        if (attempts > 0) downstream.attempts.updateUnsafe(attempts, context)
        if (retries > 0) downstream.retries.updateUnsafe(retries, context)
        return undefined
      },
      true
    )
  })

/**
 * Runs `self` against `downstream` under the retry `policy`, through the
 * downstream's bulkhead, circuit breaker and per-attempt timeout, recording
 * metrics (see the module note for the order and why).
 *
 * @example
 * ```ts
 * import { Downstream, RetryPolicy, resilient } from "@acme/resilience"
 *
 * const inventory = yield* Downstream.make({ name: "inventory", timeout: "2 seconds" })
 *
 * const stock = yield* client.get(`/stock/${sku}`).pipe(
 *   resilient(inventory, RetryPolicy.transient)
 * )
 *
 * const reservation = yield* client.post("/reservations", { headers: { "idempotency-key": key } }).pipe(
 *   resilient(inventory, RetryPolicy.transient, { request: { method: "POST", idempotencyKey: key } })
 * )
 * ```
 *
 * @since 0.0.0
 * @category combinators
 */
export const resilient: {
  (
    downstream: Downstream,
    policy: RetryPolicy,
    options?: CallOptions
  ): <A, E, R>(
    self: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | CircuitOpen | BulkheadFull | TimeoutError, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    downstream: Downstream,
    policy: RetryPolicy,
    options?: CallOptions
  ): Effect.Effect<A, E | CircuitOpen | BulkheadFull | TimeoutError, R>
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    downstream: Downstream,
    policy: RetryPolicy,
    options?: CallOptions
  ): Effect.Effect<A, E | CircuitOpen | BulkheadFull | TimeoutError, R> => {
    if (!(downstream instanceof DownstreamImpl)) {
      throw new TypeError("resilient: the downstream must come from Downstream.make")
    }
    return run(self, downstream, policy, options?.request)
  }
)
