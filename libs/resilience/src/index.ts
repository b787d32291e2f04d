/**
 * `@acme/resilience`: resilience for service-to-service calls on Effect 4.
 *
 * - {@link resilient} wraps a downstream call in bulkhead, retry, circuit
 *   breaker and per-attempt timeout, with metrics (see `Resilient` for the
 *   order and why);
 * - `RetryPolicy`: named retry policies (`transient`, `patient`, `none`);
 * - `Classify`: which failures are transient / retryable, pluggable by other
 *   libraries' errors;
 * - `CircuitBreaker`, `Bulkhead`, `Timeout`, `RateLimiter`: the primitives on
 *   their own;
 * - `Metrics`: the metric names and series this library writes.
 *
 * @since 0.0.0
 */
export * as Bulkhead from "./Bulkhead.ts"
export * as CircuitBreaker from "./CircuitBreaker.ts"
export * as Classify from "./Classify.ts"
export * as Downstream from "./Downstream.ts"
export { BulkheadFull, CircuitOpen, TimeoutError } from "./Errors.ts"
export * as Metrics from "./Metrics.ts"
export * as RateLimiter from "./RateLimiter.ts"
export { type CallOptions, resilient } from "./Resilient.ts"
export * as RetryPolicy from "./RetryPolicy.ts"
export * as Timeout from "./Timeout.ts"
