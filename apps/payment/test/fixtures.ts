/**
 * The payment service's layers for tests: a fresh PostgreSQL database migrated the way the
 * service migrates at start, the simulated processor with settings a test can change (and
 * its call counters), and configuration from `env` instead of the process environment.
 */
import type { OrderId } from "@acme/contracts"
import { OrderId as OrderIdSchema } from "@acme/contracts"
import type { AuthorizeRequest } from "@acme/contracts/payment"
import { Readiness } from "@acme/server"
import { TestDatabase } from "@acme/testing"
import { ConfigProvider, Duration, Effect, Layer, Logger, Redacted, Ref } from "effect"
import { Payments } from "../src/Payments/Payments.ts"
import { PaymentsRepo } from "../src/Payments/PaymentsRepo.ts"
import { ProcessorGateway } from "../src/Processor/ProcessorGateway.ts"
import * as ProcessorSimulated from "../src/Processor/ProcessorSimulated.ts"
import type { SimulationSettings } from "../src/Processor/ProcessorSimulated.ts"
import { ProcessorSimulation } from "../src/Processor/ProcessorSimulated.ts"
import { SqlLive } from "../src/Sql.ts"

/** A fresh database (dropped at the end), migrated by the service's own `SqlLive`. */
export const TestSql = Layer.unwrap(
  Effect.gen(function* () {
    const db = yield* TestDatabase.make
    return SqlLive.pipe(
      Layer.provide(Readiness.layer),
      Layer.provide(
        ConfigProvider.layer(ConfigProvider.fromUnknown({ DATABASE_URL: Redacted.value(db.url) }))
      )
    )
  })
)

/** No log output from the code under test (breaker transitions, processor warnings). */
const silent = Logger.layer([])

/** The processor layers, with the gateway's settings from `env`; no database. */
export const processorLayer = (options: {
  readonly simulation?: Partial<SimulationSettings>
  readonly env?: Record<string, string>
}) =>
  ProcessorGateway.layer.pipe(
    Layer.provideMerge(ProcessorSimulated.layer),
    Layer.provideMerge(
      ProcessorSimulation.layer({ latency: Duration.zero, jitter: Duration.zero, ...options.simulation })
    ),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(options.env ?? {}))),
    Layer.provideMerge(silent)
  )

/** The payments feature on a fresh database, with the simulated processor (no latency by default). */
export const appLayer = (options: {
  readonly simulation?: Partial<SimulationSettings>
  readonly env?: Record<string, string>
}) =>
  Payments.layer.pipe(
    Layer.provideMerge(PaymentsRepo.layer),
    Layer.provideMerge(processorLayer(options)),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(options.env ?? {}))),
    Layer.provideMerge(TestSql)
  )

export const newId = (): OrderId => OrderIdSchema.make(crypto.randomUUID())

export const request = (overrides: Partial<AuthorizeRequest> = {}): AuthorizeRequest => ({
  paymentId: newId(),
  amount: { amount: 1999, currency: "EUR" },
  token: "tok_visa",
  ...overrides
})

/** Processor calls so far, per operation. */
export const calls = ProcessorSimulation.use((simulation) => Ref.get(simulation.calls))

/** Changes the simulated processor's behaviour from now on. */
export const simulate = (settings: Partial<SimulationSettings>) =>
  ProcessorSimulation.use((simulation) =>
    Ref.update(simulation.settings, (current) => ({ ...current, ...settings }))
  )
