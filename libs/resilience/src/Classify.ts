/**
 * Error classification: which failures are *transient* (the downstream may
 * well succeed if asked again) and which requests are *safe to repeat*.
 *
 * The two questions are kept apart on purpose:
 *
 * - `isTransient` describes the health of the downstream. The circuit breaker
 *   counts transient failures by default, so a `404` or a `422` (the
 *   downstream is up and answered) never opens it.
 * - `isRetryable` is `isTransient` **and** the request may be sent again: a
 *   `POST` / `PATCH` is only repeated when it carries an idempotency key,
 *   because a timeout or a reset does not tell us whether the first one was
 *   applied.
 *
 * Recognised shapes:
 *
 * - Effect's `HttpClientError` (from `effect/http`): status from the response,
 *   `Retry-After` from the response headers, method and `Idempotency-Key`
 *   from the request, network failures from the transport cause chain.
 * - Any error with a numeric `status` (or `statusCode`) and optionally a raw
 *   `retryAfter` header value.
 * - Any error carrying the {@link TransientTypeId} marker, which overrides
 *   every other rule (set it to `false` to declare an error permanent).
 * - Node / undici network errors found on the `cause` chain by `code`
 *   (connection refused / reset, socket and connect timeouts) and timeout
 *   errors by name (`TimeoutError`: this library's, Effect's
 *   `Cause.TimeoutError`, `AbortSignal.timeout()`'s `DOMException`).
 *
 * Everything else is permanent: retrying an unknown failure by default turns
 * bugs into load.
 *
 * @since 0.0.0
 */
import { Cause, Predicate } from "effect"
import { HttpClientError } from "effect/http"

const isHttpClientError = HttpClientError.isHttpClientError

/**
 * Property key other libraries put on their errors to plug into the
 * classification without depending on any HTTP type.
 *
 * ```ts
 * class LockTimeout extends Schema.TaggedError<LockTimeout>()("LockTimeout", {}) {
 *   readonly [Classify.TransientTypeId] = true
 * }
 * ```
 *
 * @since 0.0.0
 * @category markers
 */
export const TransientTypeId = "~@acme/resilience/Transient" as const

/**
 * An error that states its own transience.
 *
 * @since 0.0.0
 * @category markers
 */
export interface Transient {
  readonly [TransientTypeId]: boolean
}

/**
 * What the classifier needs to know about the request that failed to decide
 * whether repeating it is safe. Absent fields mean "unknown" and do not block
 * a retry: call sites that wrap a non-idempotent operation must say so.
 *
 * @since 0.0.0
 * @category models
 */
export interface RequestInfo {
  readonly method?: string | undefined
  readonly idempotencyKey?: string | undefined
}

/**
 * HTTP statuses that say "try again later": request timeout, too many
 * requests, and the gateway family. `500` is deliberately absent: it usually
 * means a bug in the downstream, which a retry reproduces.
 *
 * @since 0.0.0
 * @category classification
 */
export const isTransientStatus = (status: number): boolean =>
  status === 408 || status === 429 || status === 502 || status === 503 || status === 504

// Connection refused / reset, socket-level timeouts and names that do not resolve, as reported
// by Node's `net` and `dns` modules and by undici (the engine behind the global `fetch`). A
// service name that does not resolve is, in compose and Kubernetes, a service that is not
// there right now (stopped, being rescheduled): unavailable, not a bug.
const transientCodes: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT"
])

const timeoutNames: ReadonlySet<string> = new Set([
  "TimeoutError",
  "ConnectTimeoutError",
  "HeadersTimeoutError",
  "BodyTimeoutError"
])

// Wrappers (`fetch failed` -> undici error -> system error) rarely nest deeper.
const maxCauseDepth = 5

const isNetworkOrTimeout = (error: unknown): boolean => {
  let current: unknown = error
  for (let depth = 0; depth < maxCauseDepth && Predicate.isObject(current); depth++) {
    if (Cause.isTimeoutError(current)) return true
    const code = (current as { readonly code?: unknown }).code
    if (typeof code === "string" && transientCodes.has(code)) return true
    const tag = (current as { readonly _tag?: unknown })._tag
    if (typeof tag === "string" && timeoutNames.has(tag)) return true
    const name = (current as { readonly name?: unknown }).name
    if (typeof name === "string" && timeoutNames.has(name)) return true
    current = (current as { readonly cause?: unknown }).cause
  }
  return false
}

/**
 * The HTTP status carried by an error, if any.
 *
 * @since 0.0.0
 * @category classification
 */
export const statusOf = (error: unknown): number | undefined => {
  if (!Predicate.isObject(error)) return undefined
  if (isHttpClientError(error)) return error.response?.status
  const status = (error as { readonly status?: unknown }).status
  if (typeof status === "number") return status
  const statusCode = (error as { readonly statusCode?: unknown }).statusCode
  return typeof statusCode === "number" ? statusCode : undefined
}

/**
 * The raw `Retry-After` value carried by an error, if any: the response
 * header of an `HttpClientError`, or a string `retryAfter` property.
 *
 * @since 0.0.0
 * @category classification
 */
export const retryAfterOf = (error: unknown): string | undefined => {
  if (!Predicate.isObject(error)) return undefined
  if (isHttpClientError(error)) return error.response?.headers["retry-after"]
  const value = (error as { readonly retryAfter?: unknown }).retryAfter
  return typeof value === "string" ? value : undefined
}

const delaySeconds = /^\s*(\d+)\s*$/

/**
 * Parses a `Retry-After` value (delta-seconds or HTTP-date, RFC 9110 §10.2.3)
 * into a delay in milliseconds from `nowMillis`. A date in the past yields
 * `0`; an unparseable value yields `undefined` so the caller falls back to
 * its own backoff.
 *
 * @since 0.0.0
 * @category classification
 */
export const parseRetryAfter = (value: string, nowMillis: number): number | undefined => {
  const seconds = delaySeconds.exec(value)
  if (seconds !== null) return Number(seconds[1]) * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMillis)
}

/**
 * Method and idempotency key of the request behind an error, when the error
 * knows them (an `HttpClientError` does).
 *
 * @since 0.0.0
 * @category classification
 */
export const requestOf = (error: unknown): RequestInfo | undefined => {
  if (!isHttpClientError(error)) return undefined
  const request = error.request
  return { method: request.method, idempotencyKey: request.headers["idempotency-key"] }
}

/**
 * Whether repeating the request is safe: anything but `POST` / `PATCH`, or a
 * `POST` / `PATCH` with a non-empty idempotency key. Unknown method counts as
 * safe (see {@link RequestInfo}).
 *
 * @since 0.0.0
 * @category classification
 */
export const isIdempotent = (request: RequestInfo | undefined): boolean => {
  if (request === undefined || request.method === undefined) return true
  const method = request.method.toUpperCase()
  if (method !== "POST" && method !== "PATCH") return true
  return request.idempotencyKey !== undefined && request.idempotencyKey.length > 0
}

/**
 * Whether an error is transient: the same request might succeed later.
 *
 * @since 0.0.0
 * @category classification
 */
export const isTransient = (error: unknown): boolean => {
  if (!Predicate.isObject(error)) return false
  const marker = (error as Partial<Transient>)[TransientTypeId]
  if (typeof marker === "boolean") return marker
  if (isHttpClientError(error)) {
    const reason = error.reason
    switch (reason._tag) {
      case "StatusCodeError":
      case "DecodeError":
      case "EmptyBodyError":
        return isTransientStatus(reason.response.status)
      case "TransportError":
        return isNetworkOrTimeout(reason.cause)
      default:
        // EncodeError / InvalidUrlError: the request never left and never will.
        return false
    }
  }
  const status = statusOf(error)
  if (status !== undefined) return isTransientStatus(status)
  return isNetworkOrTimeout(error)
}

/**
 * Whether an error should be retried: transient, and the request is safe to
 * repeat. The call site's `request` wins over what the error reports, except
 * that an idempotency key found on either side counts.
 *
 * @since 0.0.0
 * @category classification
 */
export const isRetryable = (error: unknown, request?: RequestInfo | undefined): boolean => {
  if (!isTransient(error)) return false
  const fromError = requestOf(error)
  if (fromError === undefined) return isIdempotent(request)
  if (request === undefined) return isIdempotent(fromError)
  return isIdempotent({
    method: request.method ?? fromError.method,
    idempotencyKey: request.idempotencyKey ?? fromError.idempotencyKey
  })
}
