/**
 * What a failed downstream call means to a public client, matched by type. The downstream's own
 * contract errors (not found, conflicts) are mapped by each feature; the failures of the call
 * itself (`@acme/resilience` `CallFailure`) are mapped here, once:
 *
 * - unavailable (circuit open, bulkhead full, connection failed, a transient status after the
 *   retries): 503 `dependency_unavailable` with `Retry-After`, nothing was done;
 * - no answer in time: 504;
 * - a contract mismatch (a status or body the contract does not describe, a 400 for a request we
 *   built): a defect, logged with its cause by the kit and answered 500 with no internals.
 */
import { GatewayTimeout, ServiceUnavailable } from "@acme/contracts/gateway"
import type { CallFailure } from "@acme/resilience"
import { DownstreamMismatch, DownstreamTimeout, DownstreamUnavailable } from "@acme/resilience"
import { Duration, Effect } from "effect"

const unavailable = (failure: DownstreamUnavailable) =>
  new ServiceUnavailable({
    reason: "dependency_unavailable",
    retryAfterSeconds: Math.max(1, Math.ceil(Duration.toSeconds(failure.retryAfter))),
    detail: "A service this operation needs is unavailable; retry later"
  })

const timedOut = new GatewayTimeout({ detail: "A service this operation needs did not answer in time" })

/** Maps the call failures of a downstream call to public problems, leaving its contract errors. */
export const publicFailures = <A, E, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, Exclude<E, CallFailure> | ServiceUnavailable | GatewayTimeout, R> =>
  Effect.catch(
    self,
    (error): Effect.Effect<never, Exclude<E, CallFailure> | ServiceUnavailable | GatewayTimeout> => {
      if (error instanceof DownstreamUnavailable) return Effect.fail(unavailable(error))
      if (error instanceof DownstreamTimeout) return Effect.fail(timedOut)
      if (error instanceof DownstreamMismatch) return Effect.die(error)
      return Effect.fail(error as Exclude<E, CallFailure>)
    }
  )
