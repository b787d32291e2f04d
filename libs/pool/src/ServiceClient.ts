/**
 * The HTTP client for calls to other services: the transport that `Downstream.client` of `@acme/resilience` (retries,
 * circuit breaker) wraps. It pools connections, bounds each call and measures it:
 *
 * - keep-alive: connections are reused across calls, at most `HTTP_CLIENT_MAX_CONNECTIONS` open
 *   per origin; more concurrent calls queue for a connection (inside the call's timeout);
 * - idle timeout: a connection unused for `HTTP_CLIENT_IDLE_TIMEOUT` is closed by us. It must be
 *   shorter than the servers' keep-alive timeout (65 s, see docs/architecture.md): the side that
 *   stops using a connection first closes it, so we never send a request down a connection the
 *   server is closing at that very moment (a reset, seen as a failed call). The server's
 *   `Keep-Alive: timeout=` hint can only shorten it;
 * - per-call timeout: the whole exchange (waiting for a connection, sending, the response head
 *   and its body) gets `HTTP_CLIENT_TIMEOUT`; past it the call fails with a `TransportError`
 *   whose cause is a `TimeoutError` (see {@link isTimeout}), which `HttpClient.isTransientError`
 *   and so the retry policies treat as transient;
 * - interruption (the timeout, or the caller's fiber interrupted) aborts the request on the wire:
 *   the connection is destroyed, and the server sees its request closed;
 * - `http.client.request.duration` (seconds) is recorded for each call that ends, by method,
 *   server address and port, and status code (or `error.type` when there is no response).
 *
 * The response body is read within the call, so the timeout bounds it and the connection is
 * back in the pool before the caller decodes: this client is for request/response calls, not
 * for streaming responses or upgrades to other protocols (those bypass the buffering, and the
 * timeout only bounds their response head).
 *
 * Under Node and Deno the transport is undici's `Agent` (Deno runs it through its Node
 * compatibility layer).
 */
import { HttpMetrics } from "@acme/metrics"
import { Timeout } from "@acme/server"
import { NodeHttpClient } from "@effect/platform-node"
import { Cause, Clock, Config, Duration, Effect, Exit, Layer, Metric, Option } from "effect"
import { HttpClient, HttpClientError } from "effect/http"
import type { HttpClientRequest, HttpClientResponse } from "effect/http"
import { HttpApiClient } from "effect/http-api"
import type { HttpApi, HttpApiGroup } from "effect/http-api"
import { clearImmediate, setImmediate } from "node:timers"
import { boundedInt, positiveDuration } from "./Settings.ts"

/** The client's settings; {@link config} reads them from the environment. */
export interface Settings {
  /** Connections open at once per origin (scheme, host, port). */
  readonly maxConnections: number
  /** A connection idle this long is closed; keep it below the servers' 65 s keep-alive. */
  readonly idleTimeout: Duration.Duration
  /** The bound on one call, from asking for a connection to the last byte of the response. */
  readonly timeout: Duration.Duration
}

/**
 * `HTTP_CLIENT_MAX_CONNECTIONS` (default 64), `HTTP_CLIENT_IDLE_TIMEOUT` (default 30 seconds),
 * `HTTP_CLIENT_TIMEOUT` (default 5 seconds).
 */
export const config: Config.Config<Settings> = Config.all({
  maxConnections: boundedInt("HTTP_CLIENT_MAX_CONNECTIONS", 1, 1_000_000, 64),
  idleTimeout: positiveDuration("HTTP_CLIENT_IDLE_TIMEOUT", "30 seconds"),
  timeout: positiveDuration("HTTP_CLIENT_TIMEOUT", "5 seconds")
})

/** Whether a call failed because it ran out of its `HTTP_CLIENT_TIMEOUT`. */
export const isTimeout = (error: unknown): boolean =>
  HttpClientError.isHttpClientError(error) &&
  error.reason._tag === "TransportError" &&
  Cause.isTimeoutError(error.reason.cause)

// -----------------------------------------------------------------------------------------------
// Metrics
// -----------------------------------------------------------------------------------------------

/** Scheme, host and port of an absolute URL, read without building a `URL` on every call. */
const origin = /^(https?):\/\/(\[[^\]]*\]|[^/:?#]*)(?::(\d+))?/

/** Where a request goes, as the metric attributes name it. */
const serverOf = (request: HttpClientRequest.HttpClientRequest) => {
  const match = origin.exec(request.url)
  if (match === null) return { "server.address": "unknown", "server.port": "unknown" }
  return { "server.address": match[2]!, "server.port": match[3] ?? (match[1] === "https" ? "443" : "80") }
}

/**
 * One duration series per method, server and outcome; cached, so recording a call allocates
 * nothing once its series exists. Bounded by downstreams x methods x statuses.
 */
const durationSeries = new Map<string, Metric.Metric<number, unknown>>()
const durationOf = (
  request: HttpClientRequest.HttpClientRequest,
  outcome: Readonly<Record<string, string>>
) => {
  const server = serverOf(request)
  const key = `${request.method} ${server["server.address"]} ${server["server.port"]} ${outcome["http.response.status_code"] ?? outcome["error.type"]}`
  let series = durationSeries.get(key)
  if (series === undefined) {
    series = Metric.withAttributes(HttpMetrics.clientRequestDuration, {
      "http.request.method": request.method,
      ...server,
      ...outcome
    })
    durationSeries.set(key, series)
  }
  return series
}

/** The outcome attributes of a finished call; none for a call its caller abandoned. */
const outcomeOf = (
  exit: Exit.Exit<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>
): Readonly<Record<string, string>> | undefined => {
  if (Exit.isSuccess(exit)) return { "http.response.status_code": String(exit.value.status) }
  const error = Cause.findErrorOption(exit.cause)
  if (Option.isNone(error)) return undefined
  return { "error.type": isTimeout(error.value) ? "timeout" : error.value.reason._tag }
}

// -----------------------------------------------------------------------------------------------
// The client
// -----------------------------------------------------------------------------------------------

const timeoutError = (request: HttpClientRequest.HttpClientRequest, timeout: Duration.Duration) =>
  new HttpClientError.HttpClientError({
    reason: new HttpClientError.TransportError({
      request,
      cause: new Cause.TimeoutError(`No response within ${Duration.format(timeout)}`),
      description: `No response within ${Duration.format(timeout)}`
    })
  })

/**
 * undici hands a connection back to its pool one event-loop turn after the response ends (to see
 * whether the server closes it after all). Waiting for that turn too means the next call of a
 * sequence finds the connection free, instead of opening a second one.
 */
const connectionReturned = Effect.callback<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

/**
 * The response with its body read, so that the body is covered by the timeout and the connection
 * goes back to the pool now. The transport's response keeps the body it has read (its
 * `arrayBuffer`, and `text` and `json` derived from it), so the caller decodes the same bytes
 * without a second copy. A `101 Switching Protocols` keeps its connection.
 */
const buffered = (
  response: HttpClientResponse.HttpClientResponse
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> =>
  response.status < 200 || response.status > 599
    ? Effect.succeed(response)
    : response.arrayBuffer.pipe(Effect.andThen(connectionReturned), Effect.as(response))

/** Adds the per-call timeout, the body buffering and the duration metric to a client. */
const instrument = (client: HttpClient.HttpClient, settings: Settings): HttpClient.HttpClient =>
  HttpClient.transform(client, (response, request) =>
    Effect.flatMap(Clock.currentTimeNanos, (started) =>
      response.pipe(
        Effect.flatMap(buffered),
        Timeout.orElse({
          duration: settings.timeout,
          orElse: () => Effect.fail(timeoutError(request, settings.timeout))
        }),
        Effect.onExit((exit) => {
          const outcome = outcomeOf(exit)
          if (outcome === undefined) return Effect.void
          return Effect.flatMap(Clock.currentTimeNanos, (ended) =>
            Metric.update(durationOf(request, outcome), Number(ended - started) / 1e9)
          )
        })
      )
    )
  )

/** The undici transport: keep-alive, bounded connections per origin, our idle timeout. */
const transport = (settings: Settings) =>
  NodeHttpClient.layerUndiciOptions({
    connections: settings.maxConnections,
    keepAliveTimeout: Duration.toMillis(settings.idleTimeout),
    // Caps the server's `Keep-Alive: timeout=` hint, so that our side always closes first.
    keepAliveMaxTimeout: Duration.toMillis(settings.idleTimeout)
  })

/** The client with explicit settings (tests, or a service that computes them). */
export const layerWith = (settings: Settings): Layer.Layer<HttpClient.HttpClient> =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.map(HttpClient.HttpClient, (client) => instrument(client, settings))
  ).pipe(Layer.provide(transport(settings)))

/** The client, configured from the environment (see {@link config}). */
export const layer: Layer.Layer<HttpClient.HttpClient, Config.ConfigError> = Layer.unwrap(
  Effect.map(config, layerWith)
)

/**
 * The client of another service, derived from its contract, against a base URL read from the
 * configuration, e.g. `ServiceClient.make(InventoryApi, { baseUrl: Config.URL("INVENTORY_URL") })`.
 * It uses the `HttpClient` in context: provide {@link layer}.
 */
export const make = <ApiId extends string, Groups extends HttpApiGroup.Constraint>(
  api: HttpApi.HttpApi<ApiId, Groups>,
  options: {
    readonly baseUrl: Config.Config<URL | string> | URL | string
    readonly transformClient?: ((client: HttpClient.HttpClient) => HttpClient.HttpClient) | undefined
  }
): Effect.Effect<
  HttpApiClient.Client<Groups>,
  Config.ConfigError,
  HttpClient.HttpClient | HttpApiGroup.MiddlewareClient<Groups>
> =>
  Effect.flatMap(
    Config.isConfig(options.baseUrl) ? options.baseUrl : Effect.succeed(options.baseUrl),
    (baseUrl) =>
      HttpApiClient.make(api, {
        baseUrl,
        ...(options.transformClient === undefined ? {} : { transformClient: options.transformClient })
      })
  )
