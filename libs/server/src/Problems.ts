/**
 * Every error response is an RFC 9457 problem. Contract errors are encoded as problems by the
 * HttpApi layer; everything else (unknown routes, wrong methods, oversize bodies, timeouts,
 * defects) is turned into one here. On the way out every problem gets `instance` (the request
 * path), `traceId` and `requestId`, whoever produced it.
 */
import { Cause, Effect, Option, SchemaIssue } from "effect"
import type { HttpServerRequest } from "effect/http"
import { HttpBody, HttpServerError, HttpServerResponse, ProblemDetails } from "effect/http"
import { HttpApiError, HttpApiMiddleware } from "effect/http-api"
import { SqlError } from "effect/sql"
import { problemType } from "@acme/contracts"

const titles: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  499: "Client Closed Request",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout"
}

/** A problem response for a status, with the standard title and an optional detail. */
export const problem = (
  status: number,
  detail?: string,
  options?: { readonly headers?: Record<string, string>; readonly extensions?: Record<string, unknown> }
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.jsonUnsafe(
    {
      type: ProblemDetails.blankType,
      title: titles[status] ?? "Error",
      status,
      ...(detail === undefined ? {} : { detail }),
      ...options?.extensions
    },
    { status, contentType: ProblemDetails.contentType, headers: options?.headers }
  )

/**
 * The database could not be reached (connection refused or lost, PostgreSQL restarting): a
 * repository's `orDie` made it a defect, but it is not the request's fault nor a bug. The
 * client gets what the gateway answers for a service that is down: 503, retry in a second.
 */
const databaseUnavailable = (u: unknown) => SqlError.isSqlError(u) && u.reason._tag === "ConnectionError"

/** The request parse error behind a failure, whether raised bare or wrapped in an HttpServerError. */
const requestParseError = (u: unknown): HttpServerError.RequestParseError | undefined => {
  if (u instanceof HttpServerError.RequestParseError) return u
  if (HttpServerError.isHttpServerError(u) && u.reason._tag === "RequestParseError") return u.reason
  return undefined
}

/**
 * The response for a failed request: what the client may know, never internals. The caller
 * logs the cause for anything that is the server's fault.
 */
export const fromCause = (
  cause: Cause.Cause<unknown>,
  allowedMethods: (request: HttpServerRequest.HttpServerRequest) => ReadonlyArray<string>,
  request: HttpServerRequest.HttpServerRequest
): HttpServerResponse.HttpServerResponse => {
  for (const reason of cause.reasons) {
    const error = reason._tag === "Fail" ? reason.error : reason._tag === "Die" ? reason.defect : undefined
    if (HttpServerError.isHttpServerError(error) && error.reason._tag === "RouteNotFound") {
      const allow = allowedMethods(request)
      return allow.length > 0
        ? problem(405, `${request.method} is not allowed here; allowed: ${allow.join(", ")}`, {
            headers: { allow: allow.join(", ") }
          })
        : problem(404, `No route for ${request.method} ${pathOf(request.url)}`)
    }
    const parseError = requestParseError(error)
    if (parseError?.reason === "BodyTooLarge") {
      return problem(413, "The request body is larger than this service accepts")
    }
    if (parseError !== undefined) return problem(400, "The request could not be read")
    if (
      HttpApiError.HttpApiSchemaError.is(error) &&
      error.kind !== "Body" &&
      error.kind !== "ResponseHeaders"
    ) {
      return problem(400, `Invalid request ${error.kind.toLowerCase()}`)
    }
    if (HttpApiError.HttpApiPayloadTooLarge.is(error)) return problem(413, error.message)
    if (databaseUnavailable(error)) {
      return problem(503, "The database is unavailable; retry later", {
        headers: { "retry-after": "1" },
        extensions: {
          type: problemType("service-unavailable"),
          reason: "dependency_unavailable",
          retryAfterSeconds: 1
        }
      })
    }
  }
  if (Cause.hasInterruptsOnly(cause)) return problem(503, "The request was interrupted")
  return problem(500, "An unexpected error occurred")
}

/** The path of a request URL, without query or fragment. */
export const pathOf = (url: string): string => {
  const end = url.search(/[?#]/)
  return end === -1 ? url : url.slice(0, end)
}

/**
 * Adds `instance`, `traceId` and `requestId` to a problem response, and turns an error
 * response without a body, or with a plain-text one, into a problem. Other responses pass through untouched.
 */
export const enrich = (
  response: HttpServerResponse.HttpServerResponse,
  context: { readonly path: string; readonly requestId: string; readonly traceId: string }
): HttpServerResponse.HttpServerResponse => {
  if (response.status < 400) return response
  const body = response.body
  const blank = (detail?: string) =>
    HttpServerResponse.setBody(
      response,
      HttpBody.jsonUnsafe(
        {
          type: ProblemDetails.blankType,
          title: titles[response.status] ?? "Error",
          status: response.status,
          ...(detail === undefined ? {} : { detail }),
          instance: context.path,
          traceId: context.traceId,
          requestId: context.requestId
        },
        ProblemDetails.contentType
      )
    )
  if (body._tag === "Empty") return blank()
  // A plain-text error from the platform (e.g. HttpApiBuilder's 415 "Unsupported content-type"):
  // the same problem, its text as the detail.
  if (body._tag === "Uint8Array" && body.contentType.startsWith("text/plain"))
    return blank(body.text ?? new TextDecoder().decode(body.body))
  if (body._tag !== "Uint8Array" || !body.contentType.startsWith(ProblemDetails.contentType)) return response
  const parsed = Option.liftThrowable(() => JSON.parse(body.text ?? new TextDecoder().decode(body.body)))()
  if (Option.isNone(parsed) || typeof parsed.value !== "object" || parsed.value === null) return response
  return HttpServerResponse.setBody(
    response,
    HttpBody.jsonUnsafe(
      {
        ...parsed.value,
        instance: parsed.value.instance ?? context.path,
        traceId: parsed.value.traceId ?? context.traceId,
        requestId: parsed.value.requestId ?? context.requestId
      },
      body.contentType
    )
  )
}

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * Request decode failures (bad path, query, headers, malformed JSON, schema violations) become
 * 400 problems whose `detail` names each offending field, e.g. `payload.items.0.quantity:
 * Expected a value greater than 0`, with the same list in `errors`. A response that fails to
 * encode is our bug: it stays a defect, logged and answered with a bare 500.
 */
export const layerProblemDetails = HttpApiMiddleware.layerSchemaErrorTransform(
  HttpApiMiddleware.ProblemDetails,
  (error) => {
    if (error.kind === "Body" || error.kind === "ResponseHeaders") return Effect.fail(error)
    const slot = error.kind.toLowerCase()
    const errors = formatIssues(error.cause.issue).issues.map((issue) => ({
      path: [
        slot,
        ...(issue.path ?? []).map((segment) => {
          const key = typeof segment === "object" ? segment.key : segment
          return typeof key === "number" ? key : String(key)
        })
      ],
      message: issue.message
    }))
    const detail = errors.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ")
    return Effect.fail(new HttpApiError.BadRequestProblem({ detail, errors }))
  }
)
