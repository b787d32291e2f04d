/**
 * The database of a service: a PostgreSQL pool configured from the environment, its
 * migrations run at start, a readiness check with its own deadline, and pool metrics. Each
 * service owns one database (`DATABASE_URL`); no service reads another's tables.
 *
 * | variable                   | default      | what                                                      |
 * | -------------------------- | ------------ | --------------------------------------------------------- |
 * | `DATABASE_URL`             | (required)   | `postgres://user:password@host:port/database`             |
 * | `DB_POOL_MAX`              | 10           | most connections this instance opens (see the README)     |
 * | `DB_POOL_MIN`              | 1            | connections kept open when idle                           |
 * | `DB_CONNECT_TIMEOUT`       | 5 seconds    | opening a connection, TLS and authentication included     |
 * | `DB_IDLE_TIMEOUT`          | 30 seconds   | a connection unused this long is closed (down to the min) |
 * | `DB_MAX_LIFETIME`          | 30 minutes   | a connection older than this is replaced at its next use  |
 * | `DB_STATEMENT_TIMEOUT`     | 5 seconds    | PostgreSQL cancels a statement running longer             |
 * | `DB_APPLICATION_NAME`      | service name | `application_name`, and the metrics' pool name            |
 * | `DB_READY_TIMEOUT`         | 1 second     | the readiness query counts as down past this              |
 * | `DB_POOL_METRICS_INTERVAL` | 1 second     | how often the pool metrics are sampled                    |
 */
import { NodeServices } from "@effect/platform-node"
import { PgClient, PgMigrator } from "@effect/sql-pg"
import { Readiness } from "@acme/server"
import { Config, Context, Duration, Effect, Layer } from "effect"
import { Reactivity } from "effect/reactivity"
import { SqlClient } from "effect/sql"
import * as PoolMetrics from "./PoolMetrics.ts"
import * as SessionPool from "./SessionPool.ts"

/** A migration: an effect run once, in id order, keyed `<id>_<name>` (e.g. `0001_orders`). */
export type Migrations = Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>>

const poolConfig = (applicationName: string) =>
  Config.all({
    url: Config.Redacted("DATABASE_URL"),
    maxConnections: Config.Int("DB_POOL_MAX").pipe(Config.withDefault(10)),
    minConnections: Config.Int("DB_POOL_MIN").pipe(Config.withDefault(1)),
    connectTimeout: Config.Duration("DB_CONNECT_TIMEOUT").pipe(Config.withDefault(Duration.seconds(5))),
    idleTimeout: Config.Duration("DB_IDLE_TIMEOUT").pipe(Config.withDefault(Duration.seconds(30))),
    connectionTTL: Config.Duration("DB_MAX_LIFETIME").pipe(Config.withDefault(Duration.minutes(30))),
    statementTimeout: Config.Duration("DB_STATEMENT_TIMEOUT").pipe(Config.withDefault(Duration.seconds(5))),
    applicationName: Config.String("DB_APPLICATION_NAME").pipe(Config.withDefault(applicationName))
  }).pipe(
    Config.map(({ statementTimeout, ...config }) => ({
      ...config,
      startupParameters: { statement_timeout: String(Duration.toMillis(statementTimeout)) }
    }))
  )

const readyTimeout = Config.Duration("DB_READY_TIMEOUT").pipe(Config.withDefault(Duration.seconds(1)))

const metricsInterval = Config.Duration("DB_POOL_METRICS_INTERVAL").pipe(
  Config.withDefault(Duration.seconds(1))
)

/** `PgClient` and `SqlClient` on an observable pool, and the fiber publishing its metrics. */
const client = (applicationName: string) =>
  Layer.effectContext(
    Effect.gen(function* () {
      const config = yield* poolConfig(applicationName)
      const pool = yield* SessionPool.make(config)
      yield* PoolMetrics.sample({
        pool: config.applicationName,
        stats: pool.stats,
        interval: yield* metricsInterval
      })
      return Context.make(PgClient.PgClient, pool.client).pipe(Context.add(SqlClient.SqlClient, pool.client))
    })
  ).pipe(Layer.provide(Reactivity.layer))

/**
 * The readiness check: the database answers a trivial query within `DB_READY_TIMEOUT`. The
 * query queues for a connection like any other, so a pool saturated for longer than that
 * reports the instance unready too (see the README).
 */
const registerReadiness = Layer.effectDiscard(
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const readiness = yield* Readiness
    const timeout = yield* readyTimeout
    yield* readiness.register("database", Effect.timeout(sql`SELECT 1`, timeout))
  })
)

/**
 * The pool, migrated, with its readiness check registered and its metrics published.
 * `applicationName` shows in `pg_stat_activity`, which makes a busy database easy to attribute,
 * and names the pool in the metrics.
 */
export const layer = (options: { readonly applicationName: string; readonly migrations: Migrations }) =>
  Layer.mergeAll(
    // The migrator can dump the schema with pg_dump, hence the platform services it asks for.
    PgMigrator.layer({ loader: PgMigrator.fromRecord(options.migrations) }).pipe(
      Layer.provide(NodeServices.layer)
    ),
    registerReadiness
  ).pipe(Layer.provideMerge(client(options.applicationName)))
