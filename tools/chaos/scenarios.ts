/**
 * The faults, one scenario each. `inject` resolves when the fault is over: for a kill, once the
 * stack's supervisor has the service ready again; for a toxic, after `holdSeconds` (the toxics
 * are removed by the runner after it returns).
 */
import { setTimeout as sleep } from "node:timers/promises"
import type { Toxic, Toxiproxy } from "./tools.ts"

export interface Faults {
  readonly toxiproxy: Toxiproxy
  /** Signals the service's current process; resolves once the stack says it is ready again. */
  readonly kill: (service: string, signal: NodeJS.Signals) => Promise<unknown>
  /** Asks the stack for a rolling restart (SIGUSR2); resolves once it says it is done. */
  readonly rollingRestart: () => Promise<void>
  readonly stopPostgres: () => Promise<void>
  readonly startPostgres: () => Promise<void>
}

export interface Scenario {
  readonly name: string
  readonly description: string
  /** How long the fault lasts (for the length of the load; a kill lasts what a restart takes). */
  readonly holdSeconds: number
  /** The fault is a moment (a kill): recovery counts from its start. */
  readonly instant?: boolean
  /** Whether the fault may exhaust a saga step's attempts (a dead letter, then compensation). */
  readonly deadLettersAllowed: boolean
  /** Whether every request must succeed. */
  readonly zeroFailures?: boolean
  readonly inject: (faults: Faults) => Promise<void>
}

const hold = (seconds: number) => sleep(seconds * 1000)

const toxic =
  (proxies: ReadonlyArray<string>, spec: Toxic, seconds: number) =>
  async ({ toxiproxy }: Faults) => {
    for (const proxy of proxies) await toxiproxy.addToxic(proxy, spec.type, spec)
    await hold(seconds)
  }

const kill = (service: string): Scenario => ({
  name: `kill-${service}`,
  description: `SIGKILL of ${service}; the stack restarts it`,
  holdSeconds: 6,
  instant: true,
  deadLettersAllowed: false,
  inject: async ({ kill }) => {
    await kill(service, "SIGKILL")
  }
})

const latency = { type: "latency", attributes: { latency: 300, jitter: 100 } } as const

export const scenarios: ReadonlyArray<Scenario> = [
  kill("order"),
  kill("inventory"),
  kill("payment"),
  kill("gateway"),
  {
    name: "pg-restart",
    description: "PostgreSQL stopped for 10 s, then started again",
    holdSeconds: 12,
    deadLettersAllowed: false,
    inject: async ({ startPostgres, stopPostgres }) => {
      await stopPostgres()
      await hold(10)
      await startPostgres()
    }
  },
  {
    name: "latency-inventory",
    description: "300 ms +- 100 ms latency on inventory for 15 s",
    holdSeconds: 15,
    deadLettersAllowed: false,
    inject: toxic(["inventory"], latency, 15)
  },
  {
    name: "latency-payment",
    description: "300 ms +- 100 ms latency on payment for 15 s",
    holdSeconds: 15,
    deadLettersAllowed: false,
    inject: toxic(["payment"], latency, 15)
  },
  {
    name: "reset-peer",
    description: "30% of connections to inventory and payment reset for 15 s",
    holdSeconds: 15,
    deadLettersAllowed: false,
    inject: toxic(
      ["inventory", "payment"],
      { type: "reset_peer", attributes: { timeout: 0 }, toxicity: 0.3 },
      15
    )
  },
  {
    name: "blackhole-payment",
    description: "payment's answers never arrive (timeout toxic) for 20 s",
    holdSeconds: 20,
    // A step whose every attempt timed out is dead-lettered and compensated: forced here.
    deadLettersAllowed: true,
    inject: toxic(["payment"], { type: "timeout", attributes: { timeout: 0 } }, 20)
  },
  {
    name: "pg-latency",
    description: "200 ms +- 50 ms latency between every service and PostgreSQL for 15 s",
    holdSeconds: 15,
    deadLettersAllowed: false,
    inject: toxic(
      ["order-pg", "inventory-pg", "payment-pg"],
      { type: "latency", attributes: { latency: 200, jitter: 50 } },
      15
    )
  },
  {
    name: "rolling-restart",
    description: "the stack's rolling restart (SIGUSR2): each service replaced, old one SIGTERM'd",
    holdSeconds: 30,
    instant: true,
    deadLettersAllowed: false,
    zeroFailures: true,
    inject: ({ rollingRestart }) => rollingRestart()
  }
]
