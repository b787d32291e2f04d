/**
 * Every metric this library emits, declared once, with OpenTelemetry-style
 * dotted names and seconds as the unit of time.
 *
 * Each series is built as its own `Metric` instance with its attributes given
 * at construction (rather than `Metric.withAttributes` on a shared base): the
 * metric caches its registry key per instance, so updates on the hot path are
 * a map lookup and an addition, with no per-update context or key building.
 * Building the same name and attributes again addresses the same series,
 * which is how tests and exporters read them back.
 *
 * | name                                   | type      | attributes              |
 * | -------------------------------------- | --------- | ----------------------- |
 * | `resilience.call.count`                | counter   | `downstream`, `outcome` |
 * | `resilience.call.duration` (s)         | histogram | `downstream`            |
 * | `resilience.retry.attempts`            | counter   | `downstream`            |
 * | `resilience.retry.retries`             | counter   | `downstream`            |
 * | `resilience.circuit_breaker.state`     | gauge     | `breaker`               |
 *
 * @since 0.0.0
 */
import { Metric } from "effect"

/**
 * Metric names.
 *
 * @since 0.0.0
 * @category names
 */
export const names = {
  callCount: "resilience.call.count",
  callDuration: "resilience.call.duration",
  retryAttempts: "resilience.retry.attempts",
  retryRetries: "resilience.retry.retries",
  circuitBreakerState: "resilience.circuit_breaker.state"
} as const

/**
 * How a call through `resilient(...)` ended.
 *
 * - `success`: the effect succeeded (possibly after retries);
 * - `failure`: the effect failed with its own error (after any retries);
 * - `timeout`: the last attempt timed out;
 * - `circuit_open`: rejected by the circuit breaker, the effect did not run;
 * - `bulkhead_full`: rejected by the bulkhead, the effect did not run;
 * - `interrupted`: the caller went away.
 *
 * @since 0.0.0
 * @category models
 */
export type Outcome = "success" | "failure" | "timeout" | "circuit_open" | "bulkhead_full" | "interrupted"

/**
 * All outcomes, for pre-building one series per outcome.
 *
 * @since 0.0.0
 * @category models
 */
export const outcomes: ReadonlyArray<Outcome> = [
  "success",
  "failure",
  "timeout",
  "circuit_open",
  "bulkhead_full",
  "interrupted"
]

/**
 * Circuit breaker state as exported on the gauge.
 *
 * @since 0.0.0
 * @category models
 */
export const stateValue = { closed: 0, open: 1, "half-open": 2 } as const

/**
 * Histogram buckets for call durations, in seconds (the OpenTelemetry HTTP
 * semantic-convention defaults).
 *
 * @since 0.0.0
 * @category constants
 */
export const durationBoundaries: ReadonlyArray<number> = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10
]

/**
 * Calls through `resilient(...)`, by downstream and outcome.
 *
 * @since 0.0.0
 * @category metrics
 */
export const callCount = (downstream: string, outcome: Outcome): Metric.Counter<number> =>
  Metric.counter(names.callCount, {
    description: "Calls through resilient(...), by outcome",
    incremental: true,
    attributes: { downstream, outcome }
  })

/**
 * Wall time of calls through `resilient(...)` including retries and backoff,
 * in seconds.
 *
 * @since 0.0.0
 * @category metrics
 */
export const callDuration = (downstream: string): Metric.Histogram<number> =>
  Metric.histogram(names.callDuration, {
    description: "Duration of calls through resilient(...), including retries and backoff, in seconds",
    boundaries: durationBoundaries,
    attributes: { downstream }
  })

/**
 * Attempts made (first tries plus retries).
 *
 * @since 0.0.0
 * @category metrics
 */
export const retryAttempts = (downstream: string): Metric.Counter<number> =>
  Metric.counter(names.retryAttempts, {
    description: "Attempts made against the downstream, first tries included",
    incremental: true,
    attributes: { downstream }
  })

/**
 * Retries made (attempts after the first).
 *
 * @since 0.0.0
 * @category metrics
 */
export const retryRetries = (downstream: string): Metric.Counter<number> =>
  Metric.counter(names.retryRetries, {
    description: "Retries made against the downstream (attempts after the first)",
    incremental: true,
    attributes: { downstream }
  })

/**
 * Circuit breaker state: 0 closed, 1 open, 2 half-open.
 *
 * @since 0.0.0
 * @category metrics
 */
export const circuitBreakerState = (breaker: string): Metric.Gauge<number> =>
  Metric.gauge(names.circuitBreakerState, {
    description: "Circuit breaker state: 0 closed, 1 open, 2 half-open",
    attributes: { breaker }
  })
