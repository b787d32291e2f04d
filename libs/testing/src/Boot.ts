/**
 * The boot suite every app runs: the app starts as a real process with the current runtime
 * (Node or Deno), answers `/health/ready` with its dependencies up, exits 0 on SIGTERM, and
 * refuses to start on a bad setting, naming it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { TestDatabase } from "./Postgres.ts"
import { awaitReady, startProcess } from "./ServiceProcess.ts"

/** Registers the boot tests for the service whose entry point is `entry`. */
export const describeBoot = (entry: string, options: { readonly database: boolean }) =>
  describe(`boot (${"Deno" in globalThis ? "Deno" : "Node"})`, () => {
    const environment = options.database
      ? Effect.map(TestDatabase.make, (db) => ({ DATABASE_URL: Redacted.value(db.url) }))
      : Effect.succeed({})

    it.live(
      "starts, is ready with its dependencies up, and exits 0 on SIGTERM",
      () =>
        Effect.gen(function* () {
          const env = yield* environment
          const service = yield* startProcess(entry, { ...env, SHUTDOWN_DRAIN_DELAY: "0 millis" })
          yield* awaitReady(service)
          const ready = yield* Effect.promise(() =>
            fetch(service.url + "/health/ready").then(
              (r) => r.json() as Promise<{ status: string; checks: unknown }>
            )
          )
          assert.strictEqual(ready.status, "ready")
          if (options.database) assert.deepStrictEqual(ready.checks, { database: "up" })
          assert.strictEqual(yield* service.terminate, 0, service.output())
          assert.match(service.output(), /"message":"shutting down/)
        }).pipe(Effect.scoped),
      60_000
    )

    it.live(
      "refuses to start on a bad setting and names it",
      () =>
        Effect.gen(function* () {
          const env = yield* environment
          const service = yield* startProcess(entry, { ...env, REQUEST_TIMEOUT: "soon" })
          const code = yield* service.exited
          assert.strictEqual(code, 1)
          assert.match(service.output(), /REQUEST_TIMEOUT/)
        }).pipe(Effect.scoped),
      60_000
    )
  })
