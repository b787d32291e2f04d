import { assert, describe, it } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { Effect, Exit, Redacted } from "effect"
import { Reactivity } from "effect/reactivity"
import { existsSync } from "node:fs"
import { startEmbeddedPostgres } from "../src/index.ts"

describe("startEmbeddedPostgres", () => {
  it.effect(
    "starts PostgreSQL 18 on 127.0.0.1 and stop() removes it and its directory",
    () =>
      Effect.gen(function* () {
        // The finalizer stops the server if an assertion fails first (stop() is idempotent).
        const server = yield* Effect.acquireRelease(Effect.promise(startEmbeddedPostgres), (server) =>
          Effect.promise(server.stop)
        )
        const query = Effect.scoped(
          Effect.flatMap(
            PgClient.makeClient({ url: Redacted.make(server.url) }),
            (sql) => sql<{ readonly version: string }>`SELECT version()`
          )
        )
        const [row] = yield* query
        assert.match(row?.version ?? "", /^PostgreSQL 18/)
        assert.match(server.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/)

        yield* Effect.promise(server.stop)
        assert.isFalse(existsSync(server.dataDir))
        assert.isTrue(Exit.isFailure(yield* Effect.exit(query)))
      }).pipe(Effect.provide(Reactivity.layer)),
    { timeout: 30_000 }
  )
})
