/**
 * The state behind a `Downstream`: its primitives plus every metric series it
 * writes, built once so a call only does map lookups and additions.
 *
 * @internal
 */
import type { Duration, Metric } from "effect"
import type { Bulkhead } from "../Bulkhead.ts"
import type { CircuitBreaker } from "../CircuitBreaker.ts"
import * as Metrics from "../Metrics.ts"

/** @internal */
export class DownstreamImpl {
  readonly name: string
  readonly timeout: Duration.Duration | undefined
  readonly circuitBreaker: CircuitBreaker | undefined
  readonly bulkhead: Bulkhead | undefined
  readonly calls: Readonly<Record<Metrics.Outcome, Metric.Counter<number>>>
  readonly duration: Metric.Histogram<number>
  readonly attempts: Metric.Counter<number>
  readonly retries: Metric.Counter<number>

  constructor(
    name: string,
    timeout: Duration.Duration | undefined,
    circuitBreaker: CircuitBreaker | undefined,
    bulkhead: Bulkhead | undefined
  ) {
    this.name = name
    this.timeout = timeout
    this.circuitBreaker = circuitBreaker
    this.bulkhead = bulkhead
    const calls = {} as Record<Metrics.Outcome, Metric.Counter<number>>
    for (const outcome of Metrics.outcomes) calls[outcome] = Metrics.callCount(name, outcome)
    this.calls = calls
    this.duration = Metrics.callDuration(name)
    this.attempts = Metrics.retryAttempts(name)
    this.retries = Metrics.retryRetries(name)
  }
}
