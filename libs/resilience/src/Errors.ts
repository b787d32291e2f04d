/**
 * Typed failures raised by the resilience primitives themselves (as opposed to
 * failures of the wrapped downstream call, which pass through unchanged).
 *
 * All three are `Schema.TaggedError`s so they can cross RPC / HTTP boundaries
 * with their fields intact and be matched with `Effect.catchTag`.
 *
 * @since 0.0.0
 */
import { Duration, Schema } from "effect"

/**
 * A call was rejected without being attempted because the circuit breaker
 * guarding the downstream is open (or half-open with all probe slots taken).
 *
 * `retryAfter` is how long, measured on the Effect `Clock` from the moment of
 * rejection, until the breaker will admit a probe again; it maps directly onto
 * an HTTP `Retry-After` header if the rejection is surfaced to a client.
 *
 * @since 0.0.0
 * @category errors
 */
export class CircuitOpen extends Schema.TaggedError<CircuitOpen>()("CircuitOpen", {
  breaker: Schema.String,
  state: Schema.Literals(["open", "half-open"]),
  retryAfter: Schema.Duration
}) {
  override get message(): string {
    return `Circuit breaker "${this.breaker}" is ${this.state}; retry after ${Duration.format(this.retryAfter)}`
  }
}

/**
 * The work did not complete within `duration` and was interrupted (its
 * finalizers have run by the time this error is observed).
 *
 * @since 0.0.0
 * @category errors
 */
export class TimeoutError extends Schema.TaggedError<TimeoutError>()("TimeoutError", {
  duration: Schema.Duration
}) {
  override get message(): string {
    return `Timed out after ${Duration.format(this.duration)}`
  }
}

/**
 * A call was rejected immediately because the bulkhead already has
 * `maxConcurrent` calls running and `maxQueue` callers waiting.
 *
 * @since 0.0.0
 * @category errors
 */
export class BulkheadFull extends Schema.TaggedError<BulkheadFull>()("BulkheadFull", {
  bulkhead: Schema.String,
  maxConcurrent: Schema.Number,
  maxQueue: Schema.Number
}) {
  override get message(): string {
    return `Bulkhead "${this.bulkhead}" is full (${this.maxConcurrent} running, ${this.maxQueue} queued)`
  }
}
