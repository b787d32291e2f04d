/**
 * The payment service's settings, read and validated at start (a bad value stops the service,
 * naming the variable). The kit's (`PORT`, ...) are `@acme/server`'s, the database pool's
 * (`DB_*`) `@acme/pool`'s.
 *
 * | variable                        | default      | meaning                                                         |
 * | ------------------------------- | ------------ | --------------------------------------------------------------- |
 * | `PENDING_TIMEOUT`               | `30 seconds` | an operation in flight longer is presumed crashed, taken over   |
 * | `IN_FLIGHT_WAIT`                | `2 seconds`  | a duplicate waits this long for the same operation (then 409)   |
 * | `AUTHORIZATION_TIMEOUT`         | `10 minutes` | an authorization neither captured nor voided longer is voided   |
 * | `PROCESSOR_TIMEOUT`             | `2 seconds`  | bound on one attempt at the processor (then retried)            |
 * | `CIRCUIT_BREAKER_FAILURES`      | 5            | failed attempts in a row that open the processor's circuit      |
 * | `CIRCUIT_BREAKER_OPEN_DURATION` | `10 seconds` | how long an open circuit fails fast before one probe            |
 * | `PROCESSOR_LATENCY`             | `50 millis`  | simulated processor: fixed latency per call                     |
 * | `PROCESSOR_JITTER`              | `25 millis`  | simulated processor: plus a uniform random `[0, jitter)`        |
 * | `PROCESSOR_ERROR_RATE`          | 0            | simulated processor: share of calls (0..1) failing transiently  |
 * | `PROCESSOR_AMOUNT_LIMIT`        | 1000000      | simulated processor: largest amount `tok_visa` approves (minor) |
 */
import { MinorUnits } from "@acme/contracts"
import { Settings } from "@acme/pool"
import { Downstream } from "@acme/resilience"
import { Config, Duration, Schema } from "effect"

export const payments = Config.all({
  pendingTimeout: Settings.positiveDuration("PENDING_TIMEOUT", "30 seconds"),
  /**
   * Keep it below the callers' per-attempt timeout (order's `PAYMENT_TIMEOUT`, 4 s): a duplicate
   * that waits longer is a timeout to its caller, which counts against payment's circuit, where a
   * 409 in progress is an answer that the caller retries.
   */
  inFlightWait: Settings.positiveDuration("IN_FLIGHT_WAIT", "2 seconds"),
  /** An authorization neither captured nor voided for this long is voided by the sweeper. */
  authorizationTimeout: Settings.positiveDuration("AUTHORIZATION_TIMEOUT", "10 minutes")
})

export const processor = Downstream.settings("PROCESSOR", "2 seconds")

export interface SimulationSettings {
  readonly latency: Duration.Duration
  readonly jitter: Duration.Duration
  /** Share of calls, 0..1, that fail with a transient `ProcessorError`. */
  readonly errorRate: number
  /** Largest amount, in minor units, that `tok_visa` approves. */
  readonly amountLimit: number
}

export const simulationDefaults: SimulationSettings = {
  latency: Duration.millis(50),
  jitter: Duration.millis(25),
  errorRate: 0,
  amountLimit: 1_000_000
}

export const simulation: Config.Config<SimulationSettings> = Config.all({
  latency: Config.Duration("PROCESSOR_LATENCY").pipe(Config.withDefault(simulationDefaults.latency)),
  jitter: Config.Duration("PROCESSOR_JITTER").pipe(Config.withDefault(simulationDefaults.jitter)),
  errorRate: Config.schema(
    Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 })),
    "PROCESSOR_ERROR_RATE"
  ).pipe(Config.withDefault(simulationDefaults.errorRate)),
  amountLimit: Config.schema(MinorUnits, "PROCESSOR_AMOUNT_LIMIT").pipe(
    Config.withDefault(simulationDefaults.amountLimit)
  )
})
