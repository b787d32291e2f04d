/**
 * One way to boot a service. `Service.serve` turns a contract (HttpApi) and its handlers into a
 * served HTTP app with health, OpenAPI, problem+json errors, request ids, a request timeout and
 * a structured request log, plus the admin server (`/metrics`, profiles) on its own port;
 * `Service.platform` supplies the Node server, configuration,
 * readiness and JSON logs; `Service.run` launches the whole layer as the process.
 *
 * Shutdown (SIGTERM/SIGINT interrupts the main fiber and scopes close in reverse order):
 * 1. readiness turns 503 (`drain`), requests are still served for SHUTDOWN_DRAIN_DELAY;
 * 2. the server stops accepting, in-flight requests finish (up to SHUTDOWN_TIMEOUT);
 * 3. the layers built before the server (pools, relays, background fibers) are released.
 */
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import type { HealthApi } from "@acme/contracts"
import { NotReady } from "@acme/contracts"
import { HttpMetrics, layerJsonLogger, LogFields, layerTracing } from "@acme/metrics"
import {
  Cause,
  ConfigProvider,
  Context,
  Duration,
  Effect,
  Exit,
  Layer,
  Metric,
  Runtime,
  Tracer
} from "effect"
import type { Types } from "effect"
import {
  FetchHttpClient,
  FindMyWay,
  HttpIncomingMessage,
  HttpMiddleware,
  HttpRouter,
  HttpServer,
  HttpServerRequest,
  HttpServerResponse
} from "effect/http"
import type { HttpApiGroup } from "effect/http-api"
import { HttpApi, HttpApiBuilder } from "effect/http-api"
import { createServer } from "node:http"
import * as Admin from "./Admin.ts"
import { enrich, fromCause, layerProblemDetails, pathOf, problem } from "./Problems.ts"
import { Readiness } from "./Readiness.ts"
import { ServerConfig } from "./ServerConfig.ts"
import { maxTimerMillis } from "./Timeout.ts"

const methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

/** The methods an API accepts on a path, for answering 405 with `Allow` instead of 404. */
const allowedMethodsOf = (api: HttpApi.HttpApi<string, any>) => {
  const router = FindMyWay.make<true>()
  HttpApi.reflect(api, {
    onGroup: () => {},
    onEndpoint: ({ endpoint }) => router.on(endpoint.method, endpoint.path as FindMyWay.PathInput, true)
  })
  return (request: HttpServerRequest.HttpServerRequest): ReadonlyArray<string> => {
    const path = pathOf(request.url)
    return methods.filter((method) => router.find(method, path) !== undefined)
  }
}

const requestIdPattern = /^[\w.:-]{1,128}$/

/** Paths that are neither traced nor logged per request: probes (scrapes go to the admin port). */
const isOperational = (request: HttpServerRequest.HttpServerRequest) => request.url.startsWith("/health/")

/**
 * The duration histogram for one method, route template and status; cached, so recording a
 * request allocates nothing once its series exists. Bounded by routes x methods x statuses.
 */
const durationSeries = new Map<string, Metric.Metric<number, unknown>>()
const durationOf = (method: string, route: string, status: number) => {
  const key = `${method} ${route} ${status}`
  let series = durationSeries.get(key)
  if (series === undefined) {
    series = Metric.withAttributes(HttpMetrics.serverRequestDuration, {
      "http.request.method": method,
      "http.route": route,
      "http.response.status_code": String(status)
    })
    durationSeries.set(key, series)
  }
  return series
}

/**
 * Wraps every request, matched or not: request id, request timeout (504), problem+json for
 * every failure, metrics, the request log line. One step around the handler, as this runs on
 * every request: its outcome goes through one `matchCauseEffect`.
 *
 * The request timeout interrupts the request's own fiber from a timer instead of running the
 * handler in a child fiber as `Effect.timeoutOrElse` (and `Timeout.orElse`) do. A client that
 * goes away already interrupts this fiber the same way (`NodeHttpServer`), and the server runs it
 * uninterruptibly but for the handler, so the failure branch below still answers, here 504.
 * Why: inventory with its request timeout knocked out used about 20% less CPU per read; this
 * form (one timer, no fiber) about 7% less than the child fiber (`npm run bench -- compare`, see
 * bench/README.md).
 */
const kitMiddleware = (
  allowedMethods: (request: HttpServerRequest.HttpServerRequest) => ReadonlyArray<string>
) =>
  HttpRouter.middleware<{ handles: unknown }>()(
    Effect.gen(function* () {
      const config = yield* ServerConfig
      const readiness = yield* Readiness
      const timeoutMillis = Duration.toMillis(config.requestTimeout)
      const timedOutProblem = () =>
        problem(504, `No response within ${Duration.format(config.requestTimeout)}`)
      return (httpEffect): Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled> =>
        Effect.withFiber((fiber) => {
          const request = Context.getUnsafe(fiber.context, HttpServerRequest.HttpServerRequest)
          const incoming = request.headers["x-request-id"]
          const requestId =
            incoming !== undefined && requestIdPattern.test(incoming) ? incoming : crypto.randomUUID()
          const traceId = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)?.traceId ?? requestId
          const path = pathOf(request.url)
          const operational = isOperational(request)
          const started = performance.now()
          if (!operational) HttpMetrics.serverActiveRequests.modifyUnsafe(1, fiber.context)
          let timedOut = false
          // A bound beyond what one `setTimeout` can wait (about 24.8 days) is no bound.
          const timer =
            timeoutMillis <= maxTimerMillis
              ? setTimeout(() => {
                  timedOut = true
                  fiber.interruptUnsafe(fiber.id)
                }, timeoutMillis)
              : undefined

          const respond = (response: HttpServerResponse.HttpServerResponse) => {
            let sent = HttpServerResponse.setHeader(
              enrich(response, { path, requestId, traceId }),
              "x-request-id",
              requestId
            )
            // Once draining, each connection closes after its response instead of idling
            // until the keep-alive timeout and holding shutdown up.
            if (readiness.isDraining()) sent = HttpServerResponse.setHeader(sent, "connection", "close")
            if (operational) return Effect.succeed(sent)
            // The router put the matched route in this fiber's context; it is there until the
            // request ends.
            const route =
              Context.getOrUndefined(fiber.context, HttpRouter.RouteContext)?.route.path ?? "unmatched"
            const elapsed = performance.now() - started
            HttpMetrics.serverActiveRequests.modifyUnsafe(-1, fiber.context)
            durationOf(request.method, route, response.status).updateUnsafe(elapsed / 1000, fiber.context)
            return Effect.as(
              Effect.logInfo(
                "request",
                new LogFields({
                  method: request.method,
                  route,
                  path,
                  status: response.status,
                  duration_ms: Math.round(elapsed * 100) / 100
                })
              ),
              sent
            )
          }

          return Effect.matchCauseEffect(
            // The server runs the request fiber uninterruptibly up to here; without this neither
            // the timeout nor a client that goes away would interrupt the handler (nor its SQL
            // and downstream calls).
            Effect.interruptible(httpEffect),
            {
              onSuccess: (response) => {
                clearTimeout(timer)
                return respond(response)
              },
              onFailure: (cause) => {
                clearTimeout(timer)
                const response = timedOut ? timedOutProblem() : fromCause(cause, allowedMethods, request)
                return response.status >= 500 && !timedOut
                  ? Effect.andThen(Effect.logError("request failed", cause), respond(response))
                  : respond(response)
              }
            }
          ).pipe(Effect.annotateLogs("request_id", requestId))
        })
    }),
    { global: true }
  )

/** Handlers of the health group that every contract includes (see `HealthApi`). */
const healthHandlers = <Id extends string>(api: HttpApi.HttpApi<Id, any>) =>
  HttpApiBuilder.group(
    api as unknown as HttpApi.HttpApi<Id, typeof HealthApi>,
    "health",
    Effect.fn(function* (handlers) {
      const readiness = yield* Readiness
      return handlers
        .handle("live", () => Effect.succeed({ status: "ok" as const }))
        .handle("ready", () =>
          Effect.flatMap(readiness.report, (report) =>
            report.ready
              ? Effect.succeed({ status: "ready" as const, checks: report.checks })
              : Effect.fail(new NotReady({ draining: report.draining, checks: report.checks }))
          )
        )
    })
  ) as unknown as Layer.Layer<HttpApiGroup.Service<Id, "health">, never, Readiness>

/**
 * Serves a service's contract: the given handler layers for its own groups, the health group,
 * `/openapi.json`, and the kit middleware. Readiness turns 503 and the drain delay passes
 * before the server stops accepting.
 */
export const serve = <Id extends string, Groups extends HttpApiGroup.Constraint, E, R>(options: {
  readonly api: HttpApi.HttpApi<Id, Groups>
  /** Handler layers (`HttpApiBuilder.group`) for every group but `health`. */
  readonly handlers: Layer.Layer<
    Exclude<HttpApiGroup.ToService<Id, Groups>, HttpApiGroup.Service<Id, "health">>,
    E,
    R
  >
}) => {
  const routes = HttpApiBuilder.layer(options.api, { openapiPath: "/openapi.json" }).pipe(
    Layer.provide(healthHandlers(options.api)),
    Layer.provide(options.handlers),
    Layer.provide(layerProblemDetails)
  )
  const app = Layer.merge(routes, kitMiddleware(allowedMethodsOf(options.api)))
  const served = HttpRouter.serve(app, {
    disableLogger: true,
    disableListenLog: true
  })
  // The server is built here, after every layer the handlers need (pools, migrations), so it
  // only starts listening once requests can be answered.
  return Layer.effectContext(
    Effect.gen(function* () {
      const config = yield* ServerConfig
      const readiness = yield* Readiness
      const admin = yield* Layer.build(Admin.layer)
      const context = yield* Layer.build(Layer.provideMerge(served, layerNodeServer))
      const server = Context.get(context, HttpServer.HttpServer)
      const adminAddress = Context.get(admin, Admin.AdminServer).address
      yield* Effect.logInfo(
        `listening on ${HttpServer.formatAddress(server.address)}, admin on ${HttpServer.formatAddress(adminAddress)}`
      )
      // Added after the server's own finalizers, so it runs before them.
      yield* Effect.addFinalizer(() =>
        readiness.drain.pipe(
          Effect.andThen(Effect.logInfo(`shutting down: draining for ${Duration.format(config.drainDelay)}`)),
          Effect.andThen(Effect.sleep(config.drainDelay))
        )
      )
      return Context.make(HttpServer.HttpServer, server).pipe(Context.merge(admin))
    })
  ).pipe(Layer.provide(Layer.succeed(HttpMiddleware.TracerDisabledWhen, isOperational)))
}

/** The Node HTTP server configured from {@link ServerConfig}. */
const layerNodeServer = Layer.unwrap(
  Effect.gen(function* () {
    const config = yield* ServerConfig
    const keepAliveTimeout = Duration.toMillis(config.keepAliveTimeout)
    const headersTimeout = Duration.toMillis(config.headersTimeout)
    return NodeHttpServer.layer(
      () => createServer({ keepAliveTimeout, headersTimeout, requestTimeout: headersTimeout + 30_000 }),
      {
        port: config.port,
        host: config.host,
        reusePort: config.reusePort,
        gracefulShutdownTimeout: config.shutdownTimeout
      }
    )
  })
)

/** The server, its settings, readiness, tracing and the body limit: shared by both platforms. */
const core = (name: string, port: number) =>
  Layer.mergeAll(Readiness.layer, bodyLimit, layerTracing(name)).pipe(
    Layer.provideMerge(ServerConfig.layer({ port }))
  )

/**
 * Everything a service runs on: configuration, readiness, tracing, JSON logs, the body limit.
 * The HTTP server itself comes with {@link serve}.
 */
export const platform = (options: { readonly name: string; readonly port: number }) =>
  core(options.name, options.port).pipe(Layer.provideMerge(layerJsonLogger(options.name)))

/**
 * The platform for tests: an ephemeral port of 127.0.0.1, configuration from `env` instead of
 * the process environment, and JSON logs to `log` (dropped by default). Add
 * {@link layerTestClient} on top of `serve` for an `HttpClient` that calls the server.
 */
export const platformTest = (options?: {
  readonly name?: string
  readonly env?: Record<string, string>
  readonly log?: (line: string) => void
}) => {
  const name = options?.name ?? "test"
  return core(name, 0).pipe(
    Layer.provideMerge(layerJsonLogger(name, options?.log ?? (() => {}))),
    Layer.provideMerge(
      ConfigProvider.layer(
        ConfigProvider.fromUnknown({ HOST: "127.0.0.1", SHUTDOWN_DRAIN_DELAY: "0 millis", ...options?.env })
      )
    )
  )
}

/** An `HttpClient` whose relative URLs go to the served `HttpServer` (for tests). */
export const layerTestClient = HttpServer.layerTestClient.pipe(
  Layer.provide(Layer.fresh(FetchHttpClient.layer))
)

/** The request body limit (413 beyond it), from `BODY_LIMIT`. */
const bodyLimit = Layer.effect(
  HttpIncomingMessage.MaxBodySize,
  Effect.gen(function* () {
    return (yield* ServerConfig).bodyLimit
  })
)

/**
 * A shutdown asked for by SIGTERM/SIGINT is a success (exit 0), so orchestrators see a clean
 * stop; a failure to start (bad config, database down) exits 1.
 */
const teardown: Runtime.Teardown = (exit, onExit) =>
  Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)
    ? onExit(0)
    : Runtime.defaultTeardown(exit, onExit)

/** Launches a service layer as the process: runs until SIGTERM/SIGINT, then shuts down. */
export const run = <E>(layer: Layer.Layer<never, E>) => NodeRuntime.runMain(Layer.launch(layer), { teardown })
