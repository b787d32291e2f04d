/**
 * A downstream dependency (another service, a third-party API) and the
 * resilience state shared by every call to it: its circuit breaker, its
 * bulkhead, its per-attempt timeout and its metric series.
 *
 * Create one per downstream, once (typically in the layer that builds the
 * client), and pass it to `resilient(...)` on every call. Breaker and
 * bulkhead only work if calls share them, which is why this is a value and
 * not options repeated at each call site.
 *
 * @since 0.0.0
 */
import { Duration, Effect } from "effect"
import * as Bulkhead from "./Bulkhead.ts"
import * as CircuitBreaker from "./CircuitBreaker.ts"
import { DownstreamImpl } from "./internal/downstream.ts"

/**
 * @since 0.0.0
 * @category models
 */
export interface Options {
  /** Downstream name: `downstream` attribute of the call metrics, breaker and bulkhead name. */
  readonly name: string
  /** Per-attempt timeout. Default 10 seconds; `false` disables. */
  readonly timeout?: Duration.Input | false | undefined
  /** Circuit breaker settings (name excluded). Default: breaker with its defaults; `false` disables. */
  readonly circuitBreaker?: Omit<CircuitBreaker.Options, "name"> | false | undefined
  /** Bulkhead settings (name excluded). Default 100 running, 100 queued; `false` disables. */
  readonly bulkhead?: Omit<Bulkhead.Options, "name"> | false | undefined
}

/**
 * @since 0.0.0
 * @category models
 */
export interface Downstream {
  readonly name: string
  readonly timeout: Duration.Duration | undefined
  readonly circuitBreaker: CircuitBreaker.CircuitBreaker | undefined
  readonly bulkhead: Bulkhead.Bulkhead | undefined
}

/**
 * Default per-attempt timeout.
 *
 * @since 0.0.0
 * @category defaults
 */
export const defaultTimeout: Duration.Duration = Duration.seconds(10)

/**
 * Default bulkhead size.
 *
 * @since 0.0.0
 * @category defaults
 */
export const defaultBulkhead: Omit<Bulkhead.Options, "name"> = { maxConcurrent: 100, maxQueue: 100 }

/**
 * Creates a downstream and publishes its breaker's state gauge.
 *
 * @example
 * ```ts
 * const inventory = yield* Downstream.make({
 *   name: "inventory",
 *   timeout: "2 seconds",
 *   circuitBreaker: { consecutiveFailures: 5, openDuration: "30 seconds" },
 *   bulkhead: { maxConcurrent: 50, maxQueue: 50 }
 * })
 * ```
 *
 * @since 0.0.0
 * @category constructors
 */
export const make: (options: Options) => Effect.Effect<Downstream> = Effect.fnUntraced(function* (
  options: Options
) {
  const name = options.name
  const circuitBreaker =
    options.circuitBreaker === false
      ? undefined
      : yield* CircuitBreaker.make({ ...options.circuitBreaker, name })
  const bulkhead =
    options.bulkhead === false
      ? undefined
      : Bulkhead.makeUnsafe({ ...(options.bulkhead ?? defaultBulkhead), name })
  const timeout =
    options.timeout === false
      ? undefined
      : options.timeout === undefined
        ? defaultTimeout
        : Duration.fromInputUnsafe(options.timeout)
  return new DownstreamImpl(name, timeout, circuitBreaker, bulkhead)
})
