/**
 * `@acme/resilience`: one way to call another service. `Downstream.client` derives the typed
 * client from the contract over the pooled transport, under a named policy (bulkhead, retry,
 * circuit breaker, per-attempt timeout); `Downstream.make` guards a call that is not HTTP.
 */
export * as Bulkhead from "./Bulkhead.ts"
export * as Downstream from "./Downstream.ts"
export { type CallFailure, DownstreamMismatch, DownstreamTimeout, DownstreamUnavailable } from "./Errors.ts"
export * as RetryPolicy from "./RetryPolicy.ts"
