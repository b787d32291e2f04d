/**
 * The database of a service: a PostgreSQL pool configured from the environment, its
 * migrations run at start, and a readiness check. Each service owns one database
 * (`DATABASE_URL`); no service reads another's tables.
 */
import { NodeServices } from "@effect/platform-node"
import { PgClient, PgMigrator } from "@effect/sql-pg"
import { Readiness } from "@acme/server"
import { Config, Duration, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"

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

/** The readiness check: the database answers a trivial query. */
const registerReadiness = Layer.effectDiscard(
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const readiness = yield* Readiness
    yield* readiness.register("database", sql`SELECT 1`)
  })
)

/**
 * The pool, migrated, with its readiness check registered. `applicationName` shows in
 * `pg_stat_activity`, which makes a busy database easy to attribute.
 */
export const layer = (options: { readonly applicationName: string; readonly migrations: Migrations }) =>
  Layer.mergeAll(
    // The migrator can dump the schema with pg_dump, hence the platform services it asks for.
    PgMigrator.layer({ loader: PgMigrator.fromRecord(options.migrations) }).pipe(
      Layer.provide(NodeServices.layer)
    ),
    registerReadiness
  ).pipe(Layer.provideMerge(PgClient.layerConfig(poolConfig(options.applicationName))))
