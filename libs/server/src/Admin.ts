/**
 * The admin port (`ADMIN_PORT`, default the service port + 1000): what operators and Prometheus
 * use, never the public: the gateway and the ingress do not route to it, and in Kubernetes only
 * Prometheus may reach it (network policy).
 *
 * - `GET /metrics`: Prometheus exposition of every metric, runtime metrics included.
 * - `GET /debug/cpu-profile?seconds=10`: a CPU profile of the running process over that many
 *   seconds (1-60), as a `.cpuprofile` (open it in Chrome DevTools or speedscope).
 * - `GET /debug/heap-snapshot`: a V8 heap snapshot (`.heapsnapshot`, DevTools' Memory tab). It
 *   pauses the process while it is taken (a second or more on a big heap) and needs about the
 *   heap's size again in memory.
 *
 * Neither profile is available on Deno (it has no inspector session API): 501 there.
 */
import { prometheusName, RuntimeMetrics } from "@acme/metrics"
import { Context, Effect, Layer } from "effect"
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import { NodeHttpServer } from "@effect/platform-node"
import { PrometheusMetrics } from "effect/observability"
import { createServer } from "node:http"
import * as v8 from "node:v8"
import { ServerConfig } from "./ServerConfig.ts"

/** Where the admin server listens (tests read the port from it). */
export class AdminServer extends Context.Service<
  AdminServer,
  { readonly address: HttpServer.HttpServer["Service"]["address"] }
>()("server/AdminServer") {}

const metrics = HttpRouter.add(
  "GET",
  "/metrics",
  Effect.gen(function* () {
    yield* (yield* RuntimeMetrics).collect
    const body = yield* PrometheusMetrics.format({ metricNameMapper: prometheusName })
    return HttpServerResponse.text(body, { contentType: "text/plain; version=0.0.4; charset=utf-8" })
  })
)

const unavailable = (what: string) =>
  HttpServerResponse.text(`${what} is not available on this runtime\n`, { status: 501 })

/** One profile at a time: a second request waits for none, it is refused. */
let profiling = false

const cpuProfile = HttpRouter.add(
  "GET",
  "/debug/cpu-profile",
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const asked = Number(new URL(request.url, "http://admin").searchParams.get("seconds") ?? 10)
    const seconds = Number.isFinite(asked) ? Math.min(60, Math.max(1, asked)) : 10
    if (profiling) return HttpServerResponse.text("a profile is already being taken\n", { status: 409 })
    const inspector = yield* Effect.promise(() => import("node:inspector/promises").catch(() => undefined))
    if (inspector?.Session === undefined) return unavailable("CPU profiling")
    const session = new inspector.Session()
    const profile = yield* Effect.acquireUseRelease(
      Effect.sync(() => {
        profiling = true
        session.connect()
      }),
      () =>
        Effect.promise(async () => {
          await session.post("Profiler.enable")
          await session.post("Profiler.start")
          await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
          return (await session.post("Profiler.stop")).profile
        }),
      () =>
        Effect.sync(() => {
          session.disconnect()
          profiling = false
        })
    )
    return HttpServerResponse.text(JSON.stringify(profile), {
      contentType: "application/json",
      headers: { "content-disposition": `attachment; filename="${process.pid}-${Date.now()}.cpuprofile"` }
    })
  })
)

const heapSnapshot = HttpRouter.add(
  "GET",
  "/debug/heap-snapshot",
  Effect.gen(function* () {
    const stream = yield* Effect.sync(() => {
      try {
        return v8.getHeapSnapshot()
      } catch {
        return undefined
      }
    })
    if (stream === undefined) return unavailable("A heap snapshot")
    const chunks = yield* Effect.promise(() => stream.toArray() as Promise<Array<Buffer>>)
    return HttpServerResponse.uint8Array(Buffer.concat(chunks), {
      contentType: "application/json",
      headers: { "content-disposition": `attachment; filename="${process.pid}-${Date.now()}.heapsnapshot"` }
    })
  })
)

/** The admin server: its own HTTP server on `ADMIN_PORT`, with the routes above. */
export const layer = Layer.unwrap(
  Effect.gen(function* () {
    const config = yield* ServerConfig
    const routes = Layer.mergeAll(metrics, cpuProfile, heapSnapshot)
    const served = HttpRouter.serve(routes, { disableLogger: true, disableListenLog: true })
    const address = Layer.effect(
      AdminServer,
      Effect.map(HttpServer.HttpServer, (server) => ({ address: server.address }))
    )
    return Layer.merge(served, address).pipe(
      // REUSE_PORT here too: a process started beside the one it replaces needs both ports.
      Layer.provide(
        NodeHttpServer.layer(createServer, {
          port: config.adminPort,
          host: config.host,
          reusePort: config.reusePort
        })
      ),
      Layer.provide(RuntimeMetrics.layer)
    )
  })
)
