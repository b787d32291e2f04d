/**
 * The order service's metrics, declared once, with OpenTelemetry-style dotted names and seconds
 * as the unit of time (Prometheus: `orders_completed`, `orders_saga_duration_seconds`, ...).
 *
 * | name                   | type      | attributes                     | what                                            |
 * | ---------------------- | --------- | ------------------------------ | ----------------------------------------------- |
 * | `orders.completed`     | counter   | `order.status`, `order.reason` | sagas that ended, by outcome                    |
 * | `orders.saga.duration` | histogram | `order.status`                 | seconds from placement to the terminal state    |
 * | `orders.compensations` | counter   | `saga.step`                    | compensating steps started (void/release/return) |
 * | `outbox.lag`           | gauge     |                                | age (s) of the oldest due pending outbox row    |
 * | `outbox.dead_letters`  | counter   | `outbox.command`               | outbox rows that ran out of attempts            |
 *
 * Series are built per attribute set and cached, so updating one allocates nothing.
 */
import { Metric } from "effect"

export const names = {
  completed: "orders.completed",
  sagaDuration: "orders.saga.duration",
  compensations: "orders.compensations",
  outboxLag: "outbox.lag",
  deadLetters: "outbox.dead_letters"
} as const

/** Seconds; sagas take from tens of milliseconds (happy path) to minutes (retries, outages). */
const sagaBoundaries = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600]

const cached = <M>(make: (key: string) => M) => {
  const series = new Map<string, M>()
  return (key: string): M => {
    let metric = series.get(key)
    if (metric === undefined) {
      metric = make(key)
      series.set(key, metric)
    }
    return metric
  }
}

const completedByKey = cached((key) => {
  const [status, reason] = key.split("|")
  return Metric.counter(names.completed, {
    description: "Orders whose saga ended, by final status and reason",
    attributes: { "order.status": status, "order.reason": reason }
  })
})

/** Orders that ended with `status` (and `reason`, `none` for a confirmed order). */
export const completed = (status: string, reason: string | undefined) =>
  completedByKey(`${status}|${reason ?? "none"}`)

const durationByStatus = cached((status) =>
  Metric.histogram(names.sagaDuration, {
    description: "Seconds from placing an order to its saga's end",
    attributes: { "order.status": status },
    boundaries: sagaBoundaries
  })
)

/** Saga duration in seconds, by final status. */
export const sagaDuration = (status: string) => durationByStatus(status)

/** Compensating steps started, by step (`void`, `release`, `return`). */
export const compensations = cached((step) =>
  Metric.counter(names.compensations, {
    description: "Compensating saga steps started",
    attributes: { "saga.step": step }
  })
)

/** Age in seconds of the oldest pending outbox row that is due (0 when none is). */
export const outboxLag = Metric.gauge(names.outboxLag, {
  description: "Age in seconds of the oldest due pending outbox row"
})

/** Outbox rows dead-lettered, by command. */
export const deadLetters = cached((command) =>
  Metric.counter(names.deadLetters, {
    description: "Outbox rows that ran out of delivery attempts",
    attributes: { "outbox.command": command }
  })
)
