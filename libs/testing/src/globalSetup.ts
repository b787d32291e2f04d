/**
 * Vitest `globalSetup` that gives the test run a PostgreSQL server in `DATABASE_URL`.
 *
 * If `DATABASE_URL` is already set (CI service, local server, or `tools/with-postgres.ts` which
 * starts one server for a whole `npm test`), it is used as is. Otherwise one embedded server is
 * started for this run and `DATABASE_URL` is set in this (the main vitest) process before the
 * test workers are spawned, so they inherit it; teardown stops the server.
 *
 * Use with `test: { globalSetup: ["<path to>/libs/testing/src/globalSetup.ts"] }` and
 * `TestDatabase.layer` / `TestDatabase.layerClient` in the tests.
 */
import { startEmbeddedPostgres } from "./Postgres.ts"

export default async function setup(): Promise<() => Promise<void>> {
  if (process.env["DATABASE_URL"]) return async () => {}
  const server = await startEmbeddedPostgres()
  process.env["DATABASE_URL"] = server.url
  return async () => {
    delete process.env["DATABASE_URL"]
    await server.stop()
  }
}
