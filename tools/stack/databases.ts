/** Creates the services' databases on a PostgreSQL server, those that do not exist yet. */
import { PgClient } from "@effect/sql-pg"
import { Duration, Effect, Redacted } from "effect"
import { Reactivity } from "effect/reactivity"

/**
 * Connects to `serverUrl` (any database of the server) and creates each of `names` that is
 * missing. Returns, for each name, whether it was created now.
 */
export const ensureDatabases = (
  serverUrl: string,
  names: ReadonlyArray<string>
): Promise<ReadonlyArray<{ readonly name: string; readonly created: boolean }>> =>
  PgClient.makeClient({
    url: Redacted.make(serverUrl),
    connectTimeout: Duration.seconds(5),
    applicationName: "stack"
  })
    .pipe(
      Effect.flatMap((sql) =>
        Effect.forEach(names, (name) =>
          sql<{ readonly exists: boolean }>`SELECT 1 FROM pg_database WHERE datname = ${name}`.pipe(
            Effect.flatMap((rows) =>
              rows.length > 0
                ? Effect.succeed({ name, created: false })
                : sql`CREATE DATABASE ${sql(name)}`.pipe(Effect.as({ name, created: true }))
            )
          )
        )
      ),
      Effect.scoped,
      Effect.provide(Reactivity.layer),
      Effect.runPromise
    )
    .catch((error: unknown) => {
      // SqlError > its reason > the driver's error: the last says what happened.
      const causes: Array<string> = []
      for (let e = error; e instanceof Error; e = e.cause) causes.push(e.message)
      throw new Error(`cannot create the databases: ${[...new Set(causes)].join(": ")}`)
    })
