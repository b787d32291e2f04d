/**
 * The service kit, exercised through a real HTTP server on an ephemeral port: every
 * behaviour a service gets for free from `Service.serve` + `Service.platform`.
 */
import { HealthApi } from "@acme/contracts"
import { assert, describe, it } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { Context, Deferred, Effect, Fiber, Layer, Redacted, Ref, Schema, Scope } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import type { HttpClientResponse } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpApiMiddleware } from "effect/http-api"
import { Reactivity } from "effect/reactivity"
import { freePort } from "@acme/testing"
import { connect } from "node:net"
import { AdminServer, Service } from "../src/index.ts"

const Thing = Schema.Struct({
  name: Schema.NonEmptyString,
  quantity: Schema.Int.check(Schema.isGreaterThan(0))
})

class ThingsGroup extends HttpApiGroup.make("things").add(
  HttpApiEndpoint.post("create", "/things", { payload: Thing, success: Thing }),
  HttpApiEndpoint.get("get", "/things/:id", { params: { id: Schema.Int }, success: Thing }),
  HttpApiEndpoint.get("slow", "/slow", { success: Schema.Struct({ done: Schema.Boolean }) }),
  HttpApiEndpoint.get("boom", "/boom", { success: Thing }),
  HttpApiEndpoint.get("db", "/db", { success: Thing })
) {}

class KitApi extends HttpApi.make("kit")
  .add(HealthApi)
  .add(ThingsGroup)
  .middleware(HttpApiMiddleware.ProblemDetails)
  .annotate(HttpApi.ParseOptions, { errors: "all" }) {}

/** What the handlers record, so tests can see inside the server. */
class Probe extends Context.Service<
  Probe,
  {
    readonly slowStarted: Deferred.Deferred<void>
    readonly slowInterrupted: Ref.Ref<boolean>
    readonly backgroundInterrupted: Ref.Ref<boolean>
  }
>()("test/Probe") {}

const ThingsLive = HttpApiBuilder.group(
  KitApi,
  "things",
  Effect.fn(function* (handlers) {
    const probe = yield* Probe
    return handlers
      .handle("create", ({ payload }) => Effect.succeed(payload))
      .handle("get", ({ params }) => Effect.succeed({ name: `thing ${params.id}`, quantity: 1 }))
      .handle("slow", () =>
        Deferred.succeed(probe.slowStarted, undefined).pipe(
          Effect.andThen(Effect.sleep("400 millis")),
          Effect.onInterrupt(() => Ref.set(probe.slowInterrupted, true)),
          Effect.as({ done: true })
        )
      )
      .handle("boom", () => Effect.die(new Error("secret: connection string postgres://admin:hunter2@db")))
      .handle("db", () =>
        // A real client of a PostgreSQL that is not there (nothing listens on the port), its
        // failure made a defect as the repositories do.
        Effect.gen(function* () {
          const port = yield* freePort
          const sql = yield* PgClient.make({
            url: Redacted.make(`postgres://postgres@127.0.0.1:${port}/postgres`),
            minConnections: 0
          })
          yield* sql`SELECT 1`
          return { name: "unreachable", quantity: 1 }
        }).pipe(Effect.scoped, Effect.provide(Reactivity.layer), Effect.orDie)
      )
  })
)

/** A background worker, as relays and sweepers are: it must not outlive shutdown. */
const Background = Layer.effectDiscard(
  Effect.gen(function* () {
    const probe = yield* Probe
    yield* Effect.forkScoped(
      Effect.never.pipe(Effect.onInterrupt(() => Ref.set(probe.backgroundInterrupted, true)))
    )
  })
)

interface Running {
  readonly client: HttpClient.HttpClient
  readonly probe: Probe["Service"]
  readonly scope: Scope.Closeable
  readonly logs: Array<Record<string, unknown>>
  /** The admin server's base URL. */
  readonly admin: string
}

/** Starts the test service in its own scope, so a test can shut it down when it wants. */
const start = (env: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const logs: Array<Record<string, unknown>> = []
    const probe = Probe.of({
      slowStarted: yield* Deferred.make<void>(),
      slowInterrupted: yield* Ref.make(false),
      backgroundInterrupted: yield* Ref.make(false)
    })
    const app = Service.layerTestClient.pipe(
      Layer.provideMerge(Service.serve({ api: KitApi, handlers: ThingsLive })),
      Layer.provideMerge(Background),
      Layer.provideMerge(Service.platformTest({ env, log: (line) => logs.push(JSON.parse(line)) })),
      Layer.provide(Layer.succeed(Probe, probe))
    )
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(app, scope)
    const { port } = Context.get(context, AdminServer).address as { readonly port: number }
    return {
      client: Context.get(context, HttpClient.HttpClient),
      probe,
      scope,
      logs,
      admin: `http://127.0.0.1:${port}`
    } satisfies Running
  })

/** Whether something accepts TCP connections on the port of 127.0.0.1. */
const accepts = (port: number) =>
  Effect.callback<boolean>((resume) => {
    const socket = connect(port, "127.0.0.1")
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(true))
    })
    socket.once("error", () => resume(Effect.succeed(false)))
  })

const withService = <A, E>(f: (running: Running) => Effect.Effect<A, E>, env?: Record<string, string>) =>
  Effect.acquireUseRelease(start(env), f, ({ scope }) => Scope.close(scope, undefined as never))

const isDeno = "Deno" in globalThis

const problemOf = (response: HttpClientResponse.HttpClientResponse) =>
  Effect.map(response.json, (body) => body as Record<string, unknown>)

const postText = (client: HttpClient.HttpClient, body: string) =>
  client.execute(HttpClientRequest.post("/things").pipe(HttpClientRequest.bodyText(body, "application/json")))

describe("service kit", () => {
  it.live("health: live and ready answer 200", () =>
    withService(({ client }) =>
      Effect.gen(function* () {
        assert.strictEqual((yield* client.get("/health/live")).status, 200)
        const ready = yield* client.get("/health/ready")
        assert.strictEqual(ready.status, 200)
        assert.deepStrictEqual(yield* ready.json, { status: "ready", checks: {} })
      })
    )
  )

  it.live("an unknown route is a 404 problem", () =>
    withService(({ client }) =>
      Effect.gen(function* () {
        const response = yield* client.get("/nowhere?x=1")
        assert.strictEqual(response.status, 404)
        assert.strictEqual(response.headers["content-type"], "application/problem+json")
        const problem = yield* problemOf(response)
        assert.strictEqual(problem.status, 404)
        assert.strictEqual(problem.title, "Not Found")
        assert.strictEqual(problem.instance, "/nowhere")
        assert.isString(problem.traceId)
        assert.strictEqual(problem.requestId, response.headers["x-request-id"])
      })
    )
  )

  it.live("a known path with the wrong method is a 405 problem with Allow", () =>
    withService(({ client }) =>
      Effect.gen(function* () {
        const response = yield* client.del("/things")
        assert.strictEqual(response.status, 405)
        assert.strictEqual(response.headers["allow"], "POST")
        assert.strictEqual(response.headers["content-type"], "application/problem+json")
        assert.strictEqual((yield* problemOf(response)).status, 405)
      })
    )
  )

  it.live("a schema violation is a 400 problem naming the field", () =>
    withService(({ client }) =>
      Effect.gen(function* () {
        const response = yield* postText(client, JSON.stringify({ name: "bolt", quantity: -3 }))
        assert.strictEqual(response.status, 400)
        assert.strictEqual(response.headers["content-type"], "application/problem+json")
        const problem = yield* problemOf(response)
        assert.match(String(problem.detail), /payload\.quantity/)
        assert.deepStrictEqual((problem.errors as Array<{ path: Array<unknown> }>)[0].path, [
          "payload",
          "quantity"
        ])
      })
    )
  )

  it.live("every invalid field is named, not just the first", () =>
    withService(({ client }) =>
      Effect.gen(function* () {
        const problem = yield* Effect.flatMap(
          postText(client, JSON.stringify({ name: "", quantity: 0 })),
          problemOf
        )
        assert.strictEqual(problem.status, 400)
        assert.deepStrictEqual(
          (problem.errors as Array<{ path: Array<unknown> }>).map((e) => e.path.join(".")).sort(),
          ["payload.name", "payload.quantity"]
        )
      })
    )
  )

  it.live("a missing field is named too", () =>
    withService(({ client }) =>
      Effect.gen(function* () {
        const problem = yield* Effect.flatMap(postText(client, JSON.stringify({ quantity: 2 })), problemOf)
        assert.strictEqual(problem.status, 400)
        assert.match(String(problem.detail), /payload\.name/)
      })
    )
  )

  it.live("malformed JSON is a 400 problem", () =>
    withService(({ client }) =>
      Effect.gen(function* () {
        const response = yield* postText(client, '{"name": "bolt", ')
        assert.strictEqual(response.status, 400)
        const problem = yield* problemOf(response)
        assert.match(String(problem.detail), /^payload: Expected a valid JSON body/)
      })
    )
  )

  it.live("a body of a media type the endpoint does not read is a 415 problem", () =>
    withService(({ client }) =>
      Effect.gen(function* () {
        const response = yield* client.execute(
          HttpClientRequest.post("/things").pipe(HttpClientRequest.bodyText("bolt", "text/plain"))
        )
        assert.strictEqual(response.status, 415)
        assert.strictEqual(response.headers["content-type"], "application/problem+json")
        const problem = yield* problemOf(response)
        assert.strictEqual(problem.status, 415)
        assert.match(String(problem.detail), /text\/plain/)
      })
    )
  )

  it.live("a bad path parameter is a 400 problem naming it", () =>
    withService(({ client }) =>
      Effect.gen(function* () {
        const problem = yield* Effect.flatMap(client.get("/things/abc"), problemOf)
        assert.strictEqual(problem.status, 400)
        assert.match(String(problem.detail), /params\.id/)
      })
    )
  )

  it.live("a body over the limit is a 413 problem", () =>
    withService(
      ({ client }) =>
        Effect.gen(function* () {
          const response = yield* postText(client, JSON.stringify({ name: "x".repeat(4096), quantity: 1 }))
          assert.strictEqual(response.status, 413)
          assert.strictEqual(response.headers["content-type"], "application/problem+json")
          assert.strictEqual((yield* problemOf(response)).status, 413)
          const small = yield* postText(client, JSON.stringify({ name: "bolt", quantity: 1 }))
          assert.strictEqual(small.status, 200)
        }),
      { BODY_LIMIT: "1 KiB" }
    )
  )

  it.live("a defect is a 500 problem with no internals, and is logged", () =>
    withService(({ client, logs }) =>
      Effect.gen(function* () {
        const response = yield* client.get("/boom")
        assert.strictEqual(response.status, 500)
        const text = yield* response.text
        const problem = JSON.parse(text)
        assert.strictEqual(problem.title, "Internal Server Error")
        assert.notMatch(text, /secret|hunter2|postgres|Error:|at /)
        const logged = logs.find((line) => line.level === "error")
        assert.match(String(logged?.error), /hunter2/)
        assert.strictEqual(logged?.request_id, response.headers["x-request-id"])
      })
    )
  )

  it.live("a database that cannot be reached is a 503 problem with Retry-After, and is logged", () =>
    withService(({ client, logs }) =>
      Effect.gen(function* () {
        const response = yield* client.get("/db")
        assert.strictEqual(response.status, 503)
        assert.strictEqual(response.headers["retry-after"], "1")
        const problem = yield* problemOf(response)
        assert.strictEqual(problem["reason"], "dependency_unavailable")
        assert.strictEqual(problem["retryAfterSeconds"], 1)
        assert.strictEqual(problem["detail"], "The database is unavailable; retry later")
        const logged = logs.find((line) => line.level === "error")
        assert.match(String(logged?.error), /ConnectionError|connect/i)
      })
    )
  )

  it.live("a handler slower than REQUEST_TIMEOUT gets 504 and is interrupted", () =>
    withService(
      ({ client, logs, probe }) =>
        Effect.gen(function* () {
          const response = yield* client.get("/slow")
          assert.strictEqual(response.status, 504)
          const problem = yield* problemOf(response)
          assert.strictEqual(problem.status, 504)
          assert.strictEqual(problem.requestId, response.headers["x-request-id"])
          assert.isTrue(yield* Ref.get(probe.slowInterrupted))
          // Logged once, as a request of its route, with the 504.
          const lines = logs.filter((line) => line.path === "/slow")
          assert.deepStrictEqual(
            lines.map((line) => [line.message, line.route, line.status]),
            [["request", "/slow", 504]]
          )
          // The request's fiber was interrupted, not the service: the next request is answered.
          assert.strictEqual((yield* client.get("/things/1")).status, 200)
        }),
      { REQUEST_TIMEOUT: "100 millis" }
    )
  )

  it.live("a client that goes away interrupts the handler", () =>
    withService(({ client, probe }) =>
      Effect.gen(function* () {
        const request = yield* Effect.forkChild(client.get("/slow"))
        yield* Deferred.await(probe.slowStarted)
        yield* Fiber.interrupt(request)
        // The handler would finish on its own after 400 ms without being interrupted.
        let interrupted = false
        for (let i = 0; i < 100 && !interrupted; i++) {
          yield* Effect.sleep("20 millis")
          interrupted = yield* Ref.get(probe.slowInterrupted)
        }
        assert.isTrue(interrupted)
      })
    )
  )

  it.live("the request id is taken from X-Request-Id, echoed, and in every log line of the request", () =>
    withService(({ client, logs }) =>
      Effect.gen(function* () {
        const response = yield* client.execute(
          HttpClientRequest.get("/things/7").pipe(HttpClientRequest.setHeader("x-request-id", "req-abc.123"))
        )
        assert.strictEqual(response.headers["x-request-id"], "req-abc.123")
        const generated = yield* client.get("/things/8")
        assert.match(generated.headers["x-request-id"] ?? "", /^[0-9a-f-]{36}$/)
        const lines = logs.filter((line) => line.path === "/things/7")
        assert.strictEqual(lines.length, 1)
        assert.strictEqual(lines[0].request_id, "req-abc.123")
        assert.strictEqual(lines[0].status, 200)
      })
    )
  )

  it.live("an unusable X-Request-Id is replaced, not echoed", () =>
    withService(({ client }) =>
      Effect.gen(function* () {
        const response = yield* client.execute(
          HttpClientRequest.get("/things/7").pipe(
            HttpClientRequest.setHeader("x-request-id", "bad id\twith spaces")
          )
        )
        assert.match(response.headers["x-request-id"] ?? "", /^[0-9a-f-]{36}$/)
      })
    )
  )

  it.live("/metrics, on the admin port only, serves the request durations by route template", () =>
    withService(({ admin, client }) =>
      Effect.gen(function* () {
        yield* client.get("/things/7")
        yield* client.get("/things/8")
        assert.strictEqual((yield* client.get("/metrics")).status, 404, "not on the public port")
        const scrape = yield* Effect.promise(() => fetch(`${admin}/metrics`))
        assert.strictEqual(scrape.status, 200)
        const text = yield* Effect.promise(() => scrape.text())
        const count = text
          .split("\n")
          .find(
            (line) =>
              line.startsWith("http_server_request_duration_seconds_count{") &&
              line.includes('http_route="/things/:id"') &&
              line.includes('http_request_method="GET"') &&
              line.includes('http_response_status_code="200"')
          )
        assert.isDefined(count, text)
        assert.isAtLeast(Number(count?.split(" ").at(-1)), 2)
        assert.notInclude(text, 'http_route="/things/7"')
        assert.include(text, "http_server_active_requests")
      })
    )
  )

  it.live("/metrics has the runtime metrics, read at each scrape", () =>
    withService(({ admin }) =>
      Effect.gen(function* () {
        const scrape = () => Effect.promise(() => fetch(`${admin}/metrics`).then((r) => r.text()))
        const value = (text: string, prefix: string) => {
          const line = text.split("\n").find((l) => l.startsWith(prefix))
          assert.isDefined(line, `${prefix} in\n${text}`)
          return Number(line!.split(" ").at(-1))
        }
        const first = yield* scrape()
        assert.isAbove(value(first, 'v8js_memory_heap_used_bytes{v8js_heap_space_name="old_space"'), 0)
        assert.isAbove(value(first, 'v8js_memory_heap_limit_bytes{v8js_heap_space_name="old_space"'), 0)
        assert.isAbove(value(first, "process_memory_usage_bytes"), 10_000_000)
        assert.isAtLeast(value(first, 'nodejs_active_handles{nodejs_handle_type="TCPServerWrap"'), 2)
        // The delay monitor's first tick after the scrape's reset only restarts its clock: give it
        // that tick before blocking, or the block goes unrecorded.
        yield* Effect.sleep("50 millis")
        // Busy the loop for 50 ms, making garbage: the next scrape sees the delay and collections.
        yield* Effect.sync(() => {
          const until = performance.now() + 50
          let garbage: Array<object> = []
          while (performance.now() < until) garbage = [...garbage.slice(-1000), { at: performance.now() }]
        })
        yield* Effect.sleep("20 millis")
        const second = yield* scrape()
        if (isDeno) return // Deno's loop-delay monitor, loop utilization and GC entries are stubs
        assert.isAbove(value(second, "nodejs_eventloop_utilization"), 0)
        assert.isAtLeast(value(second, "nodejs_eventloop_delay_max_seconds"), 0.04)
        assert.match(
          second,
          /v8js_gc_duration_seconds_count\{v8js_gc_type="(minor|major|incremental)"\} [1-9]/
        )
      })
    )
  )

  it.live("the admin port takes a CPU profile of the running service on demand", () =>
    withService(({ admin, client }) =>
      Effect.gen(function* () {
        const profile = Effect.promise(() =>
          fetch(`${admin}/debug/cpu-profile?seconds=1`).then(async (r) => ({
            status: r.status,
            body: await r.text()
          }))
        )
        // Busy for the whole second, so that even on a loaded machine the profile has samples
        // of the handling, not only of the idle loop.
        const busy = yield* Effect.forkChild(Effect.forever(client.get("/things/1")))
        const taken = yield* profile
        yield* Fiber.interrupt(busy)
        if (taken.status === 501) return // Deno: no inspector session
        assert.strictEqual(taken.status, 200)
        const parsed = JSON.parse(taken.body) as { nodes: Array<unknown>; samples: Array<number> }
        assert.isAbove(parsed.samples.length, 0)
        if (!isDeno) assert.isAbove(parsed.nodes.length, 10)
      })
    )
  )

  it.live("with REUSE_PORT a second instance listens on the same ports, admin too, beside the first", () =>
    Effect.gen(function* () {
      const env = {
        HOST: "127.0.0.1",
        PORT: String(yield* freePort),
        ADMIN_PORT: String(yield* freePort),
        REUSE_PORT: "true"
      }
      const first = yield* start(env)
      const second = yield* start(env)
      assert.strictEqual(second.admin, first.admin)
      assert.strictEqual((yield* second.client.get("/health/live")).status, 200)
      yield* Scope.close(first.scope, undefined as never)
      assert.strictEqual((yield* second.client.get("/health/live")).status, 200)
      const scraped = yield* Effect.promise(() => fetch(`${second.admin}/metrics`))
      assert.strictEqual(scraped.status, 200)
      yield* Scope.close(second.scope, undefined as never)
    })
  )

  it.live("the server listens only once the layers its handlers need are built", () =>
    Effect.gen(function* () {
      const port = yield* freePort
      const gate = yield* Deferred.make<void>()
      const probe = Probe.of({
        slowStarted: yield* Deferred.make<void>(),
        slowInterrupted: yield* Ref.make(false),
        backgroundInterrupted: yield* Ref.make(false)
      })
      // A dependency of the handlers that takes its time, as a pool running migrations does.
      const slowProbe = Layer.effect(Probe, Effect.as(Deferred.await(gate), probe))
      const app = Service.serve({ api: KitApi, handlers: ThingsLive }).pipe(
        Layer.provide(slowProbe),
        Layer.provideMerge(Service.platformTest({ env: { PORT: String(port) } }))
      )
      yield* Effect.forkScoped(Effect.andThen(Layer.build(app), Effect.never))
      yield* Effect.sleep("300 millis")
      assert.isFalse(yield* accepts(port), "listening before its handlers could answer")
      yield* Deferred.succeed(gate, undefined)
      let listening = false
      for (let i = 0; i < 100 && !listening; i++) {
        yield* Effect.sleep("20 millis")
        listening = yield* accepts(port)
      }
      assert.isTrue(listening)
    }).pipe(Effect.scoped)
  )

  it.live("on shutdown readiness is 503 at once, the in-flight request completes, no fiber is left", () =>
    Effect.gen(function* () {
      const { client, probe, scope } = yield* start({ SHUTDOWN_DRAIN_DELAY: "300 millis" })
      const inFlight = yield* Effect.forkChild(client.get("/slow"))
      yield* Deferred.await(probe.slowStarted)
      const shutdown = yield* Effect.forkChild(Scope.close(scope, undefined as never))
      yield* Effect.sleep("50 millis")
      const ready = yield* client.get("/health/ready")
      assert.strictEqual(ready.status, 503)
      const problem = yield* problemOf(ready)
      assert.strictEqual(problem.draining, true)
      const slow = yield* Fiber.join(inFlight)
      assert.strictEqual(slow.status, 200)
      assert.deepStrictEqual(yield* slow.json, { done: true })
      yield* Fiber.join(shutdown)
      assert.isFalse(yield* Ref.get(probe.slowInterrupted))
      assert.isTrue(yield* Ref.get(probe.backgroundInterrupted))
      const after = yield* Effect.exit(client.get("/health/live"))
      assert.strictEqual(after._tag, "Failure")
    })
  )
})
