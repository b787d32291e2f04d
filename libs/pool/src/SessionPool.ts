/**
 * A `PgClient` whose pool state can be read: how many connections are in use, idle, and how
 * many statements wait for one.
 *
 * Why not `PgClient.make`: its pool (`PgPool`) keeps the underlying `effect/Pool` private and
 * exposes no counts, so nothing outside it can tell a used connection from an idle one or see
 * who is waiting. Instead, each connection here is a *session*: an upstream `PgPool` of exactly
 * one connection (so everything upstream does per connection still applies: reconnect after the
 * socket dies, `DB_MAX_LIFETIME`, retiring a session whose interrupted statement was not
 * confirmed cancelled). The sessions live in an `effect/Pool` that we own, sized by
 * `minConnections`/`maxConnections`, closing sessions idle for `idleTimeout`; its `Pool.stats`
 * are the numbers the metrics publish.
 *
 * A statement borrows a session for its own duration and runs on the session's connection
 * unpinned (`PgPool.use`), as upstream's own pool does: the lease is already exclusive. A
 * transaction, stream or listener pins it (`PgPool.reserve`) for as long as its scope lasts.
 * (Pinning every statement, as this module first did, cost a quarter of inventory's CPU per
 * one-statement read: bench/README.md.) `connection` below adapts a `PgConnection` to
 * `effect/sql`, as upstream's private adapter does (it is not exported).
 *
 * What a session counts as: `used` = leased by a statement, transaction, stream or listener;
 * `idle` = open and not leased (a session whose connection died stays `idle` until its next
 * lease reconnects it); `pending` = statements waiting for a session.
 *
 * The `SqlClient` on top is built with the public `SqlClient.make` and the upstream compiler,
 * with the same transaction statements as `PgClient` (including failing a `COMMIT` that
 * PostgreSQL answered with `ROLLBACK`). Multiplexing (`multiplex`) is not supported.
 */
import { PgClient, PgPool } from "@effect/sql-pg"
import type { PgConnection } from "@effect/sql-pg"
import { Effect, Pool, Redacted, Stream } from "effect"
import type { Scope } from "effect"
import type { Reactivity } from "effect/reactivity"
import { SqlClient, SqlError, Statement } from "effect/sql"
import type { SqlConnection } from "effect/sql"

/** A snapshot of the pool: `used`, `idle`, `pending`, `min`, `max` (see the module header). */
export type Stats = Pool.Stats

export interface SessionPool {
  readonly client: PgClient.PgClient
  readonly stats: Effect.Effect<Stats>
}

/** The JSON fragment the upstream compiler understands (`PgClient.makeCompiler`). */
interface PgJson extends Statement.Custom<"PgJson", unknown> {}
const PgJson = Statement.custom<PgJson>("PgJson")

type TransformRows = (<A extends object>(rows: ReadonlyArray<A>) => ReadonlyArray<A>) | undefined

/** A `PgConnection` as `effect/sql` calls it: rows keyed by column, optionally transformed. */
const connection = (pg: PgConnection.PgConnection): SqlConnection.Connection => {
  const rows = (sql: string, params: ReadonlyArray<unknown>, prepare: boolean, transform: TransformRows) =>
    Effect.map(pg.query(sql, params, prepare), (result) =>
      transform === undefined ? result.rows : transform(result.rows)
    )
  return {
    execute: (sql, params, transform) => rows(sql, params, true, transform),
    executeUnprepared: (sql, params, transform) => rows(sql, params, false, transform),
    executeRaw: (sql, params) => pg.query(sql, params),
    executeValues: (sql, params) => pg.queryValues(sql, params),
    executeValuesUnprepared: (sql, params) => pg.queryValues(sql, params, false),
    executeStream: (sql, params, transform) =>
      transform === undefined
        ? pg.stream(sql, params)
        : Stream.mapArray(pg.stream(sql, params), (rows) => transform(rows) as typeof rows)
  }
}

/** `COMMIT` in a failed transaction answers `ROLLBACK`: that is a failure, not a success. */
const commit = (connection: SqlConnection.Connection): Effect.Effect<void, SqlError.SqlError> =>
  Effect.flatMap(connection.executeRaw("COMMIT", []), (result) =>
    (result as PgConnection.Result).command === "ROLLBACK"
      ? Effect.fail(
          new SqlError.SqlError({
            reason: new SqlError.UnknownError({
              cause: new Error("COMMIT rolled back an aborted transaction"),
              message: "COMMIT rolled back an aborted transaction",
              operation: "commit"
            })
          })
        )
      : Effect.void
  )

/** Where the spans say the statements go: from the explicit fields, else from the URL. */
const spanAttributes = (config: PgClient.PgPoolConfig): ReadonlyArray<readonly [string, unknown]> => {
  let url: URL | undefined
  try {
    url = config.url === undefined ? undefined : new URL(Redacted.value(config.url))
  } catch {
    url = undefined
  }
  const database = config.database ?? (url?.pathname.slice(1) || undefined)
  const username = config.username ?? (url?.username || undefined)
  return [
    ...(config.spanAttributes === undefined ? [] : Object.entries(config.spanAttributes)),
    ["db.system.name", "postgresql"],
    ["db.namespace", database ?? username ?? "postgres"],
    ["server.address", config.host ?? (url?.hostname || "localhost")],
    ["server.port", config.port ?? (url?.port ? Number(url.port) : 5432)]
  ]
}

/**
 * Opens the pool (`minConnections` sessions at once, more on demand up to `maxConnections`) and
 * closes it with the scope, after the sessions in use are given back.
 */
export const make = Effect.fnUntraced(function* (
  config: PgClient.PgPoolConfig
): Effect.fn.Return<SessionPool, SqlError.SqlError, Scope.Scope | Reactivity.Reactivity> {
  // A session exists once its connection is open: a failure to connect fails the lease that
  // asked for it, as it would with `PgClient.make`.
  const openSession = Effect.tap(
    PgPool.make({ ...config, minConnections: 1, maxConnections: 1, multiplex: false }),
    (session) => Effect.scoped(session.get)
  )
  const sessions = yield* Pool.makeWithTTL({
    acquire: openSession,
    min: config.minConnections ?? 0,
    max: config.maxConnections ?? 10,
    timeToLive: config.idleTimeout ?? "60 seconds",
    timeToLiveStrategy: "usage"
  })

  /** A session pinned until the scope closes: transactions, streams, listeners. */
  const reserve = Effect.flatMap(Pool.get(sessions), (session) => session.reserve)
  const acquirer: SqlConnection.Acquirer = Effect.map(reserve, connection)
  const sql = yield* SqlClient.make({
    acquirer,
    borrower: (f) => Pool.use(sessions, (session) => session.use((pg) => f(connection(pg)))),
    transactionAcquirer: acquirer,
    compiler: PgClient.makeCompiler(config.transformQueryNames, config.transformJson),
    driver: "pg",
    spanAttributes: spanAttributes(config),
    prepareTransactionControls: true,
    commit,
    releaseSavepoint: (name) => `RELEASE SAVEPOINT ${name}`,
    ...(config.transformResultNames === undefined
      ? {}
      : {
          transformRows: Statement.defaultTransforms(config.transformResultNames, config.transformJson).array
        })
  })

  const client: PgClient.PgClient = Object.assign(sql, {
    [PgClient.TypeId]: PgClient.TypeId,
    config,
    json: (value: unknown) => Statement.fragment([PgJson(value)]),
    // A listener holds its session for as long as it listens.
    listen: (channel: string) => Effect.flatMap(reserve, (pg) => pg.listen(channel)),
    // Inside a transaction it goes with it (delivered at COMMIT), as PostgreSQL's NOTIFY does.
    notify: (channel: string, payload: string) => Effect.asVoid(sql`SELECT pg_notify(${channel}, ${payload})`)
  })
  return { client, stats: Pool.stats(sessions) }
})
