/**
 * Database connection pool metrics, with the OpenTelemetry semantic-convention names
 * (`db.client.connection.*`), declared once. Every series carries
 * `db.client.connection.pool.name` (the service's application name); Prometheus shows them as
 * `db_client_connection_count{db_client_connection_state="used",...}` and so on.
 *
 * | name                                    | type  | attributes                                         |
 * | --------------------------------------- | ----- | -------------------------------------------------- |
 * | `db.client.connection.count`            | gauge | `db.client.connection.state` (`used`/`idle`), pool |
 * | `db.client.connection.pending_requests` | gauge | pool                                               |
 * | `db.client.connection.max`              | gauge | pool                                               |
 *
 * The values are sampled from the pool (see `SessionPool.ts` for what each count means) by a
 * background fiber that lives as long as the pool.
 */
import { Effect, Metric, Schedule } from "effect"
import type { Duration } from "effect"
import type { Stats } from "./SessionPool.ts"

/** Metric and attribute names. */
export const names = {
  count: "db.client.connection.count",
  pendingRequests: "db.client.connection.pending_requests",
  max: "db.client.connection.max",
  state: "db.client.connection.state",
  poolName: "db.client.connection.pool.name"
} as const

/** Connections in a state (`used`: lent out; `idle`: open and not lent out). */
export const connectionCount = (pool: string, state: "used" | "idle"): Metric.Gauge<number> =>
  Metric.gauge(names.count, {
    description: "The number of connections that are currently in the state described by the state attribute",
    attributes: { [names.state]: state, [names.poolName]: pool }
  })

/** Requests (statements, transactions) waiting for a connection. */
export const pendingRequests = (pool: string): Metric.Gauge<number> =>
  Metric.gauge(names.pendingRequests, {
    description: "The number of current pending requests for an open connection",
    attributes: { [names.poolName]: pool }
  })

/** The most connections the pool may open (`DB_POOL_MAX`). */
export const maxConnections = (pool: string): Metric.Gauge<number> =>
  Metric.gauge(names.max, {
    description: "The maximum number of open connections allowed",
    attributes: { [names.poolName]: pool }
  })

/**
 * Publishes the pool's state now and then every `interval`, for as long as the enclosing scope
 * is open; when it closes, the pool is gone and its counts go to 0. Reading the state is a walk
 * over at most `max` sessions, so a short interval is cheap.
 */
export const sample = (options: {
  readonly pool: string
  readonly stats: Effect.Effect<Stats>
  readonly interval: Duration.Input
}) => {
  const used = connectionCount(options.pool, "used")
  const idle = connectionCount(options.pool, "idle")
  const pending = pendingRequests(options.pool)
  const max = maxConnections(options.pool)
  const publish = Effect.flatMap(options.stats, (stats) =>
    Effect.all(
      [
        Metric.update(used, stats.used),
        Metric.update(idle, stats.idle),
        Metric.update(pending, stats.pending),
        Metric.update(max, stats.max)
      ],
      { discard: true }
    )
  )
  const closed = Effect.all([Metric.update(used, 0), Metric.update(idle, 0), Metric.update(pending, 0)], {
    discard: true
  })
  // Registered before the fiber, so it runs after the fiber is interrupted: nothing publishes after it.
  return Effect.addFinalizer(() => closed).pipe(
    Effect.andThen(publish.pipe(Effect.repeat(Schedule.spaced(options.interval)), Effect.forkScoped)),
    Effect.asVoid
  )
}
