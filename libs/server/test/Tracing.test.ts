/**
 * Trace propagation between two services over real HTTP: a request enters service "front" with a
 * W3C traceparent, front calls "back" through the client derived from back's contract, and both
 * services export their spans over OTLP/HTTP to a local collector stand-in. The same trace id
 * must be in both services' spans and in both services' log lines.
 */
import { HealthApi } from "@acme/contracts"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Schema, Scope } from "effect"
import { FetchHttpClient, HttpServer } from "effect/http"
import {
  HttpApi,
  HttpApiBuilder,
  HttpApiClient,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware
} from "effect/http-api"
import { createServer } from "node:http"
import { Service } from "../src/index.ts"

class BackApi extends HttpApi.make("back")
  .add(HealthApi)
  .add(
    HttpApiGroup.make("echo").add(
      HttpApiEndpoint.get("echo", "/echo", { success: Schema.Struct({ from: Schema.String }) })
    )
  )
  .middleware(HttpApiMiddleware.ProblemDetails) {}

class FrontApi extends HttpApi.make("front")
  .add(HealthApi)
  .add(
    HttpApiGroup.make("call").add(
      HttpApiEndpoint.get("call", "/call", { success: Schema.Struct({ from: Schema.String }) })
    )
  )
  .middleware(HttpApiMiddleware.ProblemDetails) {}

/** A stand-in OTLP collector: keeps every JSON export it receives. */
const collector = Effect.acquireRelease(
  Effect.callback<{ url: string; exports: Array<any>; close: () => void }>((resume) => {
    const exports: Array<any> = []
    const server = createServer((req, res) => {
      let body = ""
      req.on("data", (chunk) => (body += chunk))
      req.on("end", () => {
        exports.push(JSON.parse(body))
        res.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as { port: number }
      resume(
        Effect.succeed({ url: `http://127.0.0.1:${address.port}`, exports, close: () => server.close() })
      )
    })
  }),
  ({ close }) => Effect.sync(close)
)

/** Every exported span as service name + trace id. */
const spansOf = (exports: Array<any>) =>
  exports.flatMap((e) =>
    e.resourceSpans.flatMap((rs: any) => {
      const service = rs.resource.attributes.find((a: any) => a.key === "service.name")?.value.stringValue
      return rs.scopeSpans.flatMap((ss: any) =>
        ss.spans.map((span: any) => ({
          service,
          traceId: span.traceId,
          path: span.attributes.find((a: any) => a.key === "url.path")?.value.stringValue
        }))
      )
    })
  )

const start = <A, E>(layer: Layer.Layer<A, E>) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(layer, scope)
    return { scope, context }
  })

describe("tracing", () => {
  it.live("one trace id spans both services' spans and logs", () =>
    Effect.gen(function* () {
      const otlp = yield* collector
      const env = {
        OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json"
      }
      const logs: Array<Record<string, any>> = []
      const log = (line: string) => void logs.push(JSON.parse(line))

      const backHandlers = HttpApiBuilder.group(BackApi, "echo", (h) =>
        h.handle("echo", () => Effect.succeed({ from: "back" }))
      )
      const back = yield* start(
        Service.serve({ api: BackApi, handlers: backHandlers }).pipe(
          Layer.provideMerge(Service.platformTest({ name: "back", env, log }))
        )
      )
      const backAddress = Context.get(back.context, HttpServer.HttpServer).address
      const backUrl = `http://127.0.0.1:${(backAddress as { port: number }).port}`

      const frontHandlers = HttpApiBuilder.group(
        FrontApi,
        "call",
        Effect.fn(function* (h) {
          const client = yield* HttpApiClient.make(BackApi, { baseUrl: backUrl })
          return h.handle("call", () => Effect.orDie(client.echo.echo()))
        })
      ).pipe(Layer.provide(FetchHttpClient.layer))
      const front = yield* start(
        Service.serve({ api: FrontApi, handlers: frontHandlers }).pipe(
          Layer.provideMerge(Service.platformTest({ name: "front", env, log }))
        )
      )

      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
      // Plain fetch: an Effect HttpClient would send its own span as the traceparent.
      const frontAddress = Context.get(front.context, HttpServer.HttpServer).address as { port: number }
      const body = yield* Effect.promise(() =>
        fetch(`http://127.0.0.1:${frontAddress.port}/call`, {
          headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` }
        }).then((r) => r.json())
      )
      assert.deepStrictEqual(body, { from: "back" })
      // Probes are neither traced nor logged per request.
      yield* Effect.promise(() =>
        fetch(`http://127.0.0.1:${frontAddress.port}/health/ready`).then((r) => r.text())
      )

      // Closing a service flushes its exporter.
      yield* Scope.close(front.scope, undefined as never)
      yield* Scope.close(back.scope, undefined as never)

      const spans = spansOf(otlp.exports)
      assert.includeMembers(
        spans.map((span) => span.path),
        ["/call", "/echo"]
      )
      assert.notInclude(
        spans.map((span) => span.path),
        "/health/ready"
      )
      const services = new Set(spans.filter((span) => span.traceId === traceId).map((span) => span.service))
      assert.deepStrictEqual([...services].sort(), ["back", "front"], JSON.stringify(spans))
      const requestLines = logs.filter((line) => line.message === "request")
      assert.deepStrictEqual(requestLines.map((line) => [line.service, line.trace_id]).sort(), [
        ["back", traceId],
        ["front", traceId]
      ])
    }).pipe(Effect.scoped)
  )
})
