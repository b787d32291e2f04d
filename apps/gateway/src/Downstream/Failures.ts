/**
 * What a failed downstream call means to a public client. The downstream's own contract errors
 * (not found, conflicts) are mapped by each feature; this maps everything else, once:
 *
 * - circuit open, bulkhead full, connection refused or reset, 502/503/504 after the retries:
 *   503 `dependency_unavailable` with `Retry-After` (the breaker's remaining open time when it
 *   is open), nothing was done;
 * - no answer within the per-attempt or the client's timeout: 504;
 * - anything else (a response our contract does not describe, a 400 for a request we built, a
 *   500): a defect, logged with its cause by the kit and answered 500 with no internals.
 */
import { GatewayTimeout, ServiceUnavailable } from "@acme/contracts/gateway"
import { ServiceClient } from "@acme/pool"
import type { BulkheadFull, CircuitOpen, TimeoutError } from "@acme/resilience"
import { Classify } from "@acme/resilience"
import { Duration, Effect, Predicate } from "effect"
import type { Schema } from "effect"
import type { HttpClientError } from "effect/http"
import type { HttpApiError } from "effect/http-api"

/** The failures of a call that are about the call, not about what was asked. */
export type CallFailure =
  | CircuitOpen
  | BulkheadFull
  | TimeoutError
  | HttpClientError.HttpClientError
  | Schema.SchemaError
  | HttpApiError.BadRequestProblem
  | HttpApiError.InternalServerErrorProblem

const callFailureTags: ReadonlySet<string> = new Set([
  "CircuitOpen",
  "BulkheadFull",
  "TimeoutError",
  "HttpClientError",
  "SchemaError",
  "BadRequestProblem",
  "InternalServerErrorProblem"
])

const isCallFailure = (error: unknown): error is CallFailure =>
  Predicate.hasProperty(error, "_tag") && typeof error._tag === "string" && callFailureTags.has(error._tag)

const unavailable = (retryAfterSeconds: number) =>
  new ServiceUnavailable({
    reason: "dependency_unavailable",
    retryAfterSeconds,
    detail: "A service this operation needs is unavailable; retry later"
  })

const timedOut = new GatewayTimeout({ detail: "A service this operation needs did not answer in time" })

const toPublic = (error: CallFailure): Effect.Effect<never, ServiceUnavailable | GatewayTimeout> => {
  switch (error._tag) {
    case "CircuitOpen":
      return Effect.fail(unavailable(Math.max(1, Math.ceil(Duration.toSeconds(error.retryAfter)))))
    case "BulkheadFull":
      return Effect.fail(unavailable(1))
    case "TimeoutError":
      return Effect.fail(timedOut)
    case "HttpClientError":
      if (ServiceClient.isTimeout(error)) return Effect.fail(timedOut)
      if (Classify.isTransient(error)) return Effect.fail(unavailable(1))
      return Effect.die(error)
    default:
      return Effect.die(error)
  }
}

/** Maps the call failures of a downstream call to public problems, leaving its contract errors. */
export const publicFailures = <A, E, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, Exclude<E, CallFailure> | ServiceUnavailable | GatewayTimeout, R> =>
  Effect.catch(
    self,
    (error: E): Effect.Effect<never, Exclude<E, CallFailure> | ServiceUnavailable | GatewayTimeout> =>
      isCallFailure(error) ? toPublic(error) : Effect.fail(error as Exclude<E, CallFailure>)
  )
