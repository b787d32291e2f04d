/**
 * The outbox relay on its own, against a real PostgreSQL, with a scripted handler: backoff and
 * dead letters, compensations that are never dead-lettered, defects that still back off,
 * concurrent claims that never deliver a row twice, leases that run out and are claimed again,
 * outcomes of a relay that lost its lease discarded, and the trace carried across the hop.
 */
import { Readiness } from "@acme/server"
import { TestDatabase } from "@acme/testing"
import { assert, describe, layer } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Layer, Logger, Option, Random, Redacted, Ref } from "effect"
import { SqlClient } from "effect/sql"
import { Notifications } from "../src/Notifications/Notifications.ts"
import type { OutboxMessage } from "../src/Outbox/OutboxRepo.ts"
import { OutboxRepo } from "../src/Outbox/OutboxRepo.ts"
import { currentTraceparent, DeliveryFailure, OutboxHandler, parentOf, Relay } from "../src/Outbox/Relay.ts"
import { SqlLive } from "../src/Sql.ts"

/** What the scripted handler does with a command, by its name. */
type Script = (message: OutboxMessage) => Effect.Effect<void, DeliveryFailure>

class Scripted extends Context.Service<
  Scripted,
  {
    readonly script: Ref.Ref<Script>
    readonly delivered: Ref.Ref<ReadonlyArray<{ readonly id: number; readonly traceId: string | undefined }>>
    readonly deadLettered: Ref.Ref<ReadonlyArray<number>>
    /**
     * Outcomes recorded (committed by the effect `handle` answers, as a handler's writes are):
     * the row and the claim's token, in order.
     */
    readonly recorded: Effect.Effect<ReadonlyArray<{ readonly id: number; readonly token: string }>>
  }
>()("test/Scripted") {}

const ScriptedLive = Layer.effect(
  Scripted,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`
      CREATE TABLE test_recorded (seq serial PRIMARY KEY, outbox_id bigint NOT NULL, token text NOT NULL)
    `.pipe(Effect.orDie)
    return {
      script: yield* Ref.make<Script>(() => Effect.void),
      delivered: yield* Ref.make<
        ReadonlyArray<{ readonly id: number; readonly traceId: string | undefined }>
      >([]),
      deadLettered: yield* Ref.make<ReadonlyArray<number>>([]),
      recorded: sql<{ id: number; token: string }>`
        SELECT outbox_id::int AS id, token FROM test_recorded ORDER BY seq
      `.pipe(Effect.orDie)
    }
  })
)

const HandlerLive = Layer.effect(
  OutboxHandler,
  Effect.gen(function* () {
    const scripted = yield* Scripted
    const sql = yield* SqlClient.SqlClient
    return OutboxHandler.of({
      handle: (message) =>
        Effect.gen(function* () {
          const script = yield* Ref.get(scripted.script)
          yield* script(message)
          const span = yield* Effect.option(Effect.currentSpan)
          const traceId = Option.getOrUndefined(Option.map(span, (s) => s.traceId))
          yield* Ref.update(scripted.delivered, (all) => [...all, { id: message.id, traceId }])
          return sql`INSERT INTO test_recorded (outbox_id, token) VALUES (${message.id}, ${message.claimToken})`.pipe(
            Effect.orDie
          )
        }),
      deadLettered: (message) => Ref.update(scripted.deadLettered, (all) => [...all, message.id]),
      abandon: () => Effect.succeed(Option.none())
    })
  })
)

const env = {
  OUTBOX_MAX_ATTEMPTS: "3",
  OUTBOX_BACKOFF_BASE: "1 second",
  OUTBOX_BACKOFF_MAX: "4 seconds",
  OUTBOX_LEASE: "1 second"
}

const TestLive = Layer.unwrap(
  Effect.gen(function* () {
    const db = yield* TestDatabase.make
    return Relay.layerManual.pipe(
      Layer.provide(HandlerLive),
      Layer.provideMerge(Layer.mergeAll(OutboxRepo.layer, Notifications.layer)),
      Layer.provideMerge(ScriptedLive),
      Layer.provideMerge(SqlLive),
      Layer.provide(Readiness.layer),
      Layer.provide(
        ConfigProvider.layer(ConfigProvider.fromUnknown({ DATABASE_URL: Redacted.value(db.url), ...env }))
      )
    )
  })
).pipe(Layer.orDie, Layer.provideMerge(Logger.layer([])))

let sagas = 0
const newSaga = () => `00000000-0000-4000-8000-${(++sagas).toString().padStart(12, "0")}`

const enqueue = (options: { readonly retryUntilDone?: boolean; readonly sagaId?: string } = {}) =>
  Effect.gen(function* () {
    const repo = yield* OutboxRepo
    const sql = yield* SqlClient.SqlClient
    const sagaId = options.sagaId ?? newSaga()
    yield* repo.enqueue({
      sagaId,
      command: "test",
      payload: {},
      secret: { token: "s3cret" },
      retryUntilDone: options.retryUntilDone ?? false,
      traceparent: yield* currentTraceparent
    })
    const rows = yield* sql<{ id: string }>`SELECT id::text FROM outbox WHERE saga_id = ${sagaId}`.pipe(
      Effect.orDie
    )
    return Number(rows[0].id)
  })

const rowOf = (id: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{
      status: string
      attempts: number
      delay_ms: number
      last_error: string | null
      secret: unknown
    }>`
      SELECT status, attempts, last_error, secret,
             extract(epoch FROM next_attempt_at - clock_timestamp())::float8 * 1000 AS delay_ms
      FROM outbox WHERE id = ${id}
    `.pipe(Effect.orDie)
    return rows[0]
  })

/** Makes a row due now (instead of waiting out its backoff). */
const makeDue = (id: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`UPDATE outbox SET next_attempt_at = clock_timestamp() WHERE id = ${id}`.pipe(Effect.orDie)
  })

const setScript = (script: Script) =>
  Effect.gen(function* () {
    const scripted = yield* Scripted
    yield* Ref.set(scripted.script, script)
  })

const failing =
  (retryable: boolean): Script =>
  () =>
    Effect.fail(new DeliveryFailure({ message: "downstream said no", retryable }))

describe("Relay", () => {
  layer(TestLive, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect(
      "delivers a due row once, in the trace of the span that enqueued it, and erases its secret",
      () =>
        Effect.gen(function* () {
          const relay = yield* Relay
          const scripted = yield* Scripted
          yield* setScript(() => Effect.void)
          const { id, traceId } = yield* Effect.gen(function* () {
            const span = yield* Effect.currentSpan
            return { id: yield* enqueue(), traceId: span.traceId }
          }).pipe(Effect.withSpan("Test.enqueue"))
          assert.isTrue(yield* relay.processOne)
          assert.isFalse(yield* relay.processOne, "nothing else is due")
          const delivered = (yield* Ref.get(scripted.delivered)).filter((d) => d.id === id)
          assert.deepStrictEqual(delivered, [{ id, traceId }])
          const row = yield* rowOf(id)
          assert.deepStrictEqual([row.status, row.attempts, row.secret], ["done", 1, null])
        })
    )

    it.effect("a failed delivery backs off (full jitter under a doubling bound), then is dead-lettered", () =>
      Effect.gen(function* () {
        const relay = yield* Relay
        const scripted = yield* Scripted
        yield* setScript(failing(true))
        const id = yield* enqueue()
        // Attempt 1 fails: due again within [0, 1 s). Attempt 2: within [0, 2 s).
        for (const [attempt, bound] of [
          [1, 1000],
          [2, 2000]
        ] as const) {
          assert.isTrue(yield* relay.processOne)
          const row = yield* rowOf(id)
          assert.deepStrictEqual(
            [row.status, row.attempts, row.last_error],
            ["pending", attempt, "downstream said no"]
          )
          assert.isAtMost(row.delay_ms, bound)
          // (Full jitter may draw a delay of a few milliseconds: then it may be due already.)
          if (row.delay_ms > 100) assert.isFalse(yield* relay.processOne, "not due before its backoff")
          yield* makeDue(id)
        }
        // Attempt 3 of 3: dead, kept, handed to the handler.
        assert.isTrue(yield* relay.processOne)
        const row = yield* rowOf(id)
        assert.deepStrictEqual([row.status, row.attempts, row.secret], ["dead", 3, null])
        assert.include(yield* Ref.get(scripted.deadLettered), id)
      })
    )

    it.effect("a delivery refused by an open circuit waits until the circuit may close", () =>
      Effect.gen(function* () {
        const relay = yield* Relay
        yield* setScript(() =>
          Effect.fail(
            new DeliveryFailure({ message: "circuit open", retryable: true, retryAfterMillis: 8000 })
          )
        )
        const id = yield* enqueue()
        assert.isTrue(yield* relay.processOne)
        const row = yield* rowOf(id)
        assert.deepStrictEqual([row.status, row.attempts], ["pending", 1])
        // At least the circuit's 8 s, plus the backoff's full jitter (bound 1 s for attempt 1).
        assert.isAtLeast(row.delay_ms, 7000)
        assert.isAtMost(row.delay_ms, 9000)
        assert.isFalse(yield* relay.processOne, "not due while the circuit is open")
        yield* makeDue(id)
        yield* setScript(() => Effect.void)
        assert.isTrue(yield* relay.processOne)
        assert.strictEqual((yield* rowOf(id)).status, "done")
      })
    )

    it.effect("a permanent failure is dead-lettered at once; a compensation is retried past the limit", () =>
      Effect.gen(function* () {
        const relay = yield* Relay
        const scripted = yield* Scripted
        yield* setScript(failing(false))
        const permanent = yield* enqueue()
        assert.isTrue(yield* relay.processOne)
        assert.strictEqual((yield* rowOf(permanent)).status, "dead")

        const compensation = yield* enqueue({ retryUntilDone: true })
        for (let attempt = 1; attempt <= 5; attempt++) {
          assert.isTrue(yield* relay.processOne)
          const row = yield* rowOf(compensation)
          assert.deepStrictEqual([row.status, row.attempts], ["pending", attempt])
          // Capped at OUTBOX_BACKOFF_MAX.
          assert.isAtMost(row.delay_ms, 4000)
          yield* makeDue(compensation)
        }
        yield* setScript(() => Effect.void)
        assert.isTrue(yield* relay.processOne)
        assert.strictEqual((yield* rowOf(compensation)).status, "done")
        assert.notInclude(yield* Ref.get(scripted.deadLettered), compensation)
      })
    )

    it.effect("a defect while delivering rolls back, counts the attempt and backs off", () =>
      Effect.gen(function* () {
        const relay = yield* Relay
        const sql = yield* SqlClient.SqlClient
        yield* setScript(() => Effect.die(new Error("bug in the handler")))
        const id = yield* enqueue()
        // The retry's jitter drawn at the middle: half of OUTBOX_BACKOFF_BASE, not a draw near 0
        // that would make the row due again before the next claim.
        const processOne = Effect.provideService(relay.processOne, Random.Random, {
          nextDoubleUnsafe: () => 0.5,
          nextIntUnsafe: () => 0
        })
        yield* Effect.gen(function* () {
          assert.isTrue(yield* processOne)
          const row = yield* rowOf(id)
          assert.deepStrictEqual([row.status, row.attempts], ["pending", 1])
          assert.include(row.last_error ?? "", "bug in the handler")
          assert.isFalse(yield* processOne, "backing off, not looping")
        }).pipe(
          // Out of the way of the next tests, whatever happened.
          Effect.ensuring(
            sql`UPDATE outbox SET status = 'done', finished_at = now() WHERE id = ${id}`.pipe(Effect.orDie)
          )
        )
      })
    )

    it.effect("8 relays claiming concurrently deliver each of 40 rows exactly once", () =>
      Effect.gen(function* () {
        const relay = yield* Relay
        const scripted = yield* Scripted
        yield* Ref.set(scripted.delivered, [])
        yield* setScript(() => Effect.sleep("10 millis"))
        const ids = yield* Effect.forEach(Array.from({ length: 40 }), () => enqueue())
        const workers = Array.from({ length: 8 }, () =>
          Effect.gen(function* () {
            while (yield* relay.processOne) {
              // keep claiming
            }
          })
        )
        yield* Effect.all(workers, { concurrency: "unbounded", discard: true })
        const delivered = (yield* Ref.get(scripted.delivered)).map((d) => d.id).sort((a, b) => a - b)
        assert.deepStrictEqual(
          delivered,
          [...ids].sort((a, b) => a - b)
        )
      })
    )

    it.effect("an expired lease is delivered again, exactly once, and recorded once", () =>
      Effect.gen(function* () {
        const relay = yield* Relay
        const repo = yield* OutboxRepo
        const scripted = yield* Scripted
        yield* setScript(() => Effect.void)
        const id = yield* enqueue()
        // A relay claims the row and dies before recording anything.
        const [lost] = yield* repo.claim(1)
        assert.strictEqual(lost.id, id)
        assert.isFalse(yield* relay.processOne, "leased: no one else may claim it")
        yield* Effect.sleep("1100 millis")
        // Once the lease ran out, four relays race for it: one delivers it.
        const claims = yield* Effect.all(
          Array.from({ length: 4 }, () => relay.processOne),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(
          claims.filter((claimed) => claimed),
          [true]
        )
        assert.deepStrictEqual((yield* Ref.get(scripted.delivered)).filter((d) => d.id === id).length, 1)
        assert.deepStrictEqual((yield* scripted.recorded).filter((r) => r.id === id).length, 1)
        const row = yield* rowOf(id)
        assert.deepStrictEqual([row.status, row.attempts, row.secret], ["done", 2, null])
        assert.isFalse(yield* relay.processOne, "nothing left to deliver")
      })
    )

    it.effect("a late outcome from a relay that lost its lease is discarded", () =>
      Effect.gen(function* () {
        const relay = yield* Relay
        const repo = yield* OutboxRepo
        const scripted = yield* Scripted
        yield* setScript(() => Effect.void)
        const succeeded = yield* enqueue()
        const failed = yield* enqueue()
        // Relay A claims both rows and stalls past its lease; relay B claims them again.
        const stale = yield* repo.claim(2)
        assert.deepStrictEqual(
          stale.map((m) => m.id),
          [succeeded, failed]
        )
        yield* Effect.sleep("1100 millis")
        const fresh = yield* repo.claim(2)
        assert.deepStrictEqual(
          fresh.map((m) => m.id),
          [succeeded, failed]
        )
        // A wakes up while B is still delivering: its success and its failure are discarded.
        yield* relay.deliver(stale[0])
        yield* setScript(failing(false))
        yield* relay.deliver(stale[1])
        assert.notInclude(yield* Ref.get(scripted.deadLettered), failed)
        for (const id of [succeeded, failed]) {
          const row = yield* rowOf(id)
          assert.deepStrictEqual([row.status, row.attempts], ["pending", 2], "B still holds it")
        }
        // B's outcomes count, once each.
        yield* setScript(() => Effect.void)
        yield* relay.deliver(fresh[0])
        yield* relay.deliver(fresh[1])
        assert.deepStrictEqual(
          (yield* scripted.recorded).filter((r) => r.id === succeeded || r.id === failed),
          fresh.map((m) => ({ id: m.id, token: m.claimToken }))
        )
        for (const id of [succeeded, failed]) {
          const row = yield* rowOf(id)
          assert.deepStrictEqual([row.status, row.attempts, row.last_error], ["done", 2, null])
        }
        // A relay whose lease ran out but was not claimed again still records (its token holds).
        const late = yield* enqueue()
        const [slow] = yield* repo.claim(1)
        yield* Effect.sleep("1100 millis")
        yield* relay.deliver(slow)
        assert.strictEqual((yield* rowOf(late)).status, "done")
      })
    )

    it.effect(
      "deferred commands: written at commit and handed to the relay; a savepoint's dropped with it",
      () =>
        Effect.gen(function* () {
          const repo = yield* OutboxRepo
          const sql = yield* SqlClient.SqlClient
          const dispatched = yield* Ref.make<ReadonlyArray<OutboxMessage>>([])
          yield* repo.register((messages) => Ref.update(dispatched, (all) => [...all, ...messages]))
          const [kept, dropped, released] = [newSaga(), newSaga(), newSaga()]
          const command = (sagaId: string) => ({
            sagaId,
            command: "test",
            payload: { n: 1 },
            retryUntilDone: false,
            traceparent: undefined
          })
          yield* repo.transaction(
            Effect.gen(function* () {
              yield* repo.enqueue(command(kept))
              const failed = yield* Effect.exit(
                repo.transaction(Effect.andThen(repo.enqueue(command(dropped)), Effect.fail("rolled back")))
              )
              assert.isTrue(failed._tag === "Failure")
              yield* repo.transaction(repo.enqueue(command(released)))
            })
          )
          const rows = yield* sql<{ saga_id: string; attempts: number; claimed: boolean }>`
          SELECT saga_id::text, attempts, claim_token IS NOT NULL AS claimed FROM outbox
          WHERE saga_id IN (${kept}, ${dropped}, ${released}) ORDER BY id
        `.pipe(Effect.orDie)
          assert.deepStrictEqual(
            rows.map((row) => [row.saga_id, row.attempts, row.claimed]),
            [
              [kept, 1, true],
              [released, 1, true]
            ]
          )
          assert.deepStrictEqual(
            (yield* Ref.get(dispatched)).map((message) => [
              message.sagaId,
              message.payload,
              message.attempts
            ]),
            [
              [kept, { n: 1 }, 0],
              [released, { n: 1 }, 0]
            ]
          )
          yield* sql`UPDATE outbox SET status = 'done', finished_at = now() WHERE saga_id IN (${kept}, ${released})`.pipe(
            Effect.orDie
          )
        }).pipe(Effect.scoped)
    )

    it.effect("a traceparent round-trips to the span it names", () =>
      Effect.gen(function* () {
        const span = yield* Effect.currentSpan
        const traceparent = yield* currentTraceparent
        const parent = parentOf(traceparent)
        assert.strictEqual(parent?.traceId, span.traceId)
        assert.strictEqual(parent?.spanId, span.spanId)
        assert.isUndefined(parentOf(undefined))
      }).pipe(Effect.withSpan("Test.roundTrip"))
    )
  })
})
