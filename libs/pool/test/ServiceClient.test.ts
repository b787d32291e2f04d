import { HealthApi } from "@acme/contracts"
import { HttpMetrics } from "@acme/metrics"
import { TestServer } from "@acme/testing"
import { assert, describe, it, layer } from "@effect/vitest"
import { Config, ConfigProvider, Duration, Effect, Fiber, Metric, Schema } from "effect"
import { HttpClient, HttpServer } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpApiMiddleware } from "effect/http-api"
import { PrometheusMetrics } from "effect/observability"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { ServiceClient } from "../src/index.ts"

// -----------------------------------------------------------------------------------------------
// A plain node:http server that records what the client does to it
// -----------------------------------------------------------------------------------------------

interface Observed {
  /** TCP connections accepted so far. */
  connections: number
  /** TCP connections open now, and the most ever open at once. */
  open: number
  maxOpen: number
  /** Requests whose connection closed before their response was sent. */
  aborted: Array<string>
  /** Requests whose handler finished (sent its response). */
  finished: Array<string>
}

/**
 * Routes: `/fast`; `/slow?ms=N` answers after N ms; `/trickle?ms=N` sends its head at once and
 * ends its body after N ms; `/status/N` answers status N. The server
 * keeps idle connections for 65 s, as the service kit does.
 */
const startServer = Effect.acquireRelease(
  Effect.callback<{ readonly server: Http.Server; readonly url: string; readonly observed: Observed }>(
    (resume) => {
      const observed: Observed = { connections: 0, open: 0, maxOpen: 0, aborted: [], finished: [] }
      const server = Http.createServer((request, response) => {
        const url = new URL(request.url ?? "/", "http://localhost")
        const respond = (status: number, body: string) => {
          if (response.destroyed) return
          response.writeHead(status, { "content-type": "text/plain" }).end(body)
          observed.finished.push(url.pathname)
        }
        response.on("close", () => {
          if (!response.writableFinished) observed.aborted.push(url.pathname)
        })
        if (url.pathname === "/trickle") {
          // The head at once, the last byte of the body after `ms`.
          response.writeHead(200, { "content-type": "text/plain" }).write("first ")
          const timer = setTimeout(
            () => {
              response.end("last")
              observed.finished.push(url.pathname)
            },
            Number(url.searchParams.get("ms") ?? 1000)
          )
          response.on("close", () => clearTimeout(timer))
        } else if (url.pathname === "/slow") {
          const timer = setTimeout(() => respond(200, "slow"), Number(url.searchParams.get("ms") ?? 1000))
          response.on("close", () => clearTimeout(timer))
        } else if (url.pathname.startsWith("/status/")) {
          respond(Number(url.pathname.slice("/status/".length)), "status")
        } else {
          respond(200, "fast")
        }
      })
      server.keepAliveTimeout = 65_000
      server.on("connection", (socket) => {
        observed.connections++
        observed.open++
        observed.maxOpen = Math.max(observed.maxOpen, observed.open)
        socket.on("close", () => {
          observed.open--
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ server, url: `http://127.0.0.1:${port}`, observed }))
      })
    }
  ),
  ({ server }) =>
    Effect.callback<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

const settings = (overrides: Partial<ServiceClient.Settings> = {}): ServiceClient.Settings => ({
  maxConnections: 64,
  idleTimeout: Duration.seconds(30),
  timeout: Duration.seconds(5),
  ...overrides
})

/** Waits until `condition` holds, checking every 10 ms, for at most `within`. */
const eventually = (condition: () => boolean, within: Duration.Input = "1 second") =>
  Effect.gen(function* () {
    const deadline = Date.now() + Duration.toMillis(Duration.fromInputUnsafe(within))
    while (!condition() && Date.now() < deadline) yield* Effect.sleep("10 millis")
  })

const get = (url: string) => Effect.flatMap(HttpClient.HttpClient, (client) => client.get(url))

describe("ServiceClient transport", () => {
  it.live("sequential calls reuse one keep-alive connection", () =>
    Effect.gen(function* () {
      const { url, observed } = yield* startServer
      for (let i = 0; i < 10; i++) {
        const response = yield* get(`${url}/fast`)
        assert.strictEqual(yield* response.text, "fast")
      }
      assert.strictEqual(observed.connections, 1)
    }).pipe(Effect.scoped, Effect.provide(ServiceClient.layerWith(settings())))
  )

  it.live("concurrent calls never open more than the maximum connections per origin", () =>
    Effect.gen(function* () {
      const { url, observed } = yield* startServer
      const statuses = yield* Effect.forEach(
        Array.from({ length: 10 }),
        () => Effect.map(get(`${url}/slow?ms=100`), (response) => response.status),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(
        statuses,
        Array.from({ length: 10 }, () => 200)
      )
      assert.strictEqual(observed.maxOpen, 2)
      assert.strictEqual(observed.connections, 2)
    }).pipe(Effect.scoped, Effect.provide(ServiceClient.layerWith(settings({ maxConnections: 2 }))))
  )

  it.live("a call past its timeout fails with a timeout, and the server sees it abandoned", () =>
    Effect.gen(function* () {
      const { url, observed } = yield* startServer
      const started = Date.now()
      const error = yield* Effect.flip(get(`${url}/slow?ms=3000`))
      const elapsed = Date.now() - started
      assert.isTrue(ServiceClient.isTimeout(error), String(error))
      assert.isAtLeast(elapsed, 190)
      assert.isBelow(elapsed, 1000)
      yield* eventually(() => observed.aborted.length > 0)
      assert.deepStrictEqual(observed.aborted, ["/slow"])
      assert.deepStrictEqual(observed.finished, [])
    }).pipe(
      Effect.scoped,
      Effect.provide(ServiceClient.layerWith(settings({ timeout: Duration.millis(200) })))
    )
  )

  it.live("the timeout covers the body, which the caller then reads from memory", () =>
    Effect.gen(function* () {
      const { url, observed } = yield* startServer
      const error = yield* Effect.flip(get(`${url}/trickle?ms=3000`))
      assert.isTrue(ServiceClient.isTimeout(error), String(error))
      yield* eventually(() => observed.aborted.length > 0)
      assert.deepStrictEqual(observed.aborted, ["/trickle"])

      const response = yield* get(`${url}/trickle?ms=50`)
      assert.deepStrictEqual(observed.finished, ["/trickle"], "the body was read within the call")
      assert.strictEqual(yield* response.text, "first last")
      assert.strictEqual(new TextDecoder().decode(yield* response.arrayBuffer), "first last")
    }).pipe(
      Effect.scoped,
      Effect.provide(ServiceClient.layerWith(settings({ timeout: Duration.millis(200) })))
    )
  )

  it.live("interrupting a call aborts it on the wire before the server answers", () =>
    Effect.gen(function* () {
      const { url, observed } = yield* startServer
      const call = yield* Effect.forkChild(get(`${url}/slow?ms=3000`))
      yield* eventually(() => observed.connections > 0)
      yield* Effect.sleep("50 millis")
      yield* Fiber.interrupt(call)
      yield* eventually(() => observed.aborted.length > 0, "500 millis")
      assert.deepStrictEqual(observed.aborted, ["/slow"])
      assert.deepStrictEqual(observed.finished, [])
    }).pipe(Effect.scoped, Effect.provide(ServiceClient.layerWith(settings())))
  )

  it.live("an idle connection is closed by the client after the idle timeout", () =>
    Effect.gen(function* () {
      const { url, observed } = yield* startServer
      yield* get(`${url}/fast`)
      assert.strictEqual(observed.open, 1)
      // The server would keep it for 65 s and says so (`Keep-Alive: timeout=65`).
      yield* eventually(() => observed.open === 0, "1500 millis")
      assert.strictEqual(observed.open, 0)
    }).pipe(
      Effect.scoped,
      Effect.provide(ServiceClient.layerWith(settings({ idleTimeout: Duration.millis(200) })))
    )
  )
})

describe("ServiceClient metrics", () => {
  it.live("each call is recorded in http.client.request.duration by method, server and status", () =>
    Effect.gen(function* () {
      const { url, observed } = yield* startServer
      const port = new URL(url).port
      yield* get(`${url}/fast`)
      yield* get(`${url}/fast`)
      yield* get(`${url}/status/404`)
      yield* Effect.flip(get(`${url}/slow?ms=3000`))
      yield* eventually(() => observed.aborted.length > 0)

      const series = (attributes: Record<string, string>) =>
        Metric.value(Metric.withAttributes(HttpMetrics.clientRequestDuration, attributes))
      const server = { "http.request.method": "GET", "server.address": "127.0.0.1", "server.port": port }
      assert.strictEqual((yield* series({ ...server, "http.response.status_code": "200" })).count, 2)
      assert.strictEqual((yield* series({ ...server, "http.response.status_code": "404" })).count, 1)
      const timedOut = yield* series({ ...server, "error.type": "timeout" })
      assert.strictEqual(timedOut.count, 1)
      assert.isAtLeast(timedOut.sum, 0.2)

      const text = yield* PrometheusMetrics.format()
      const count = text
        .split("\n")
        .find(
          (line) =>
            line.startsWith("http_client_request_duration_count{") &&
            line.includes(`server_port="${port}"`) &&
            line.includes('http_response_status_code="200"') &&
            line.includes('http_request_method="GET"')
        )
      assert.strictEqual(count?.split(" ").at(-1), "2")
    }).pipe(
      Effect.scoped,
      Effect.provide(ServiceClient.layerWith(settings({ timeout: Duration.millis(250) })))
    )
  )
})

describe("ServiceClient configuration", () => {
  const settingsFrom = (env: Record<string, string>) =>
    Effect.provide(ServiceClient.config, ConfigProvider.layer(ConfigProvider.fromUnknown(env)))

  it.effect("defaults: 64 connections per origin, 30 s idle, 5 s per call", () =>
    Effect.gen(function* () {
      const settings = yield* settingsFrom({})
      assert.strictEqual(settings.maxConnections, 64)
      assert.isTrue(Duration.equals(settings.idleTimeout, Duration.seconds(30)))
      assert.isTrue(Duration.equals(settings.timeout, Duration.seconds(5)))
    })
  )

  it.effect("reads the environment and refuses values that are not positive", () =>
    Effect.gen(function* () {
      const settings = yield* settingsFrom({
        HTTP_CLIENT_MAX_CONNECTIONS: "8",
        HTTP_CLIENT_IDLE_TIMEOUT: "10 seconds",
        HTTP_CLIENT_TIMEOUT: "750 millis"
      })
      assert.strictEqual(settings.maxConnections, 8)
      assert.isTrue(Duration.equals(settings.idleTimeout, Duration.seconds(10)))
      assert.isTrue(Duration.equals(settings.timeout, Duration.millis(750)))
      yield* Effect.flip(settingsFrom({ HTTP_CLIENT_MAX_CONNECTIONS: "0" }))
      yield* Effect.flip(settingsFrom({ HTTP_CLIENT_TIMEOUT: "0 millis" }))
    })
  )
})

// -----------------------------------------------------------------------------------------------
// A contract client through the kit's test server
// -----------------------------------------------------------------------------------------------

class Gadgets extends HttpApiGroup.make("gadgets").add(
  HttpApiEndpoint.get("get", "/gadgets/:id", {
    params: { id: Schema.String },
    success: Schema.Struct({ id: Schema.String })
  })
) {}

class GadgetApi extends HttpApi.make("gadgets")
  .add(HealthApi)
  .add(Gadgets)
  .middleware(HttpApiMiddleware.ProblemDetails) {}

const handlers = HttpApiBuilder.group(GadgetApi, "gadgets", (h) =>
  h.handle("get", ({ params }) => Effect.succeed({ id: params.id }))
)

/** The test server's URL, as a deployment would put it in `GADGETS_URL`. */
const gadgetsUrl = Effect.map(HttpServer.HttpServer, (server) => HttpServer.formatAddress(server.address))

layer(TestServer.layer({ api: GadgetApi, handlers }))("ServiceClient.make", (it) => {
  it.effect("derives the contract's client against the base URL from the configuration", () =>
    Effect.gen(function* () {
      const url = yield* gadgetsUrl
      const client = yield* ServiceClient.make(GadgetApi, { baseUrl: Config.String("GADGETS_URL") }).pipe(
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ GADGETS_URL: url })))
      )
      assert.deepStrictEqual(yield* client.gadgets.get({ params: { id: "g1" } }), { id: "g1" })
      assert.strictEqual((yield* client.health.live()).status, "ok")
    }).pipe(Effect.provide(ServiceClient.layerWith(settings())))
  )
})
