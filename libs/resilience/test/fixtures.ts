import type { Random } from "effect"
import { Effect, Metric } from "effect"
import { HttpClientError, HttpClientRequest, HttpClientResponse } from "effect/http"

/** An `HttpClientError` for a response with `status` (and optional headers) to `request`. */
export const statusError = (
  status: number,
  options?: {
    readonly request?: HttpClientRequest.HttpClientRequest
    readonly headers?: Record<string, string>
  }
): HttpClientError.HttpClientError => {
  const request = options?.request ?? HttpClientRequest.get("http://inventory.internal/stock/42")
  const response = HttpClientResponse.fromWeb(
    request,
    new Response(null, { status, headers: options?.headers ?? {} })
  )
  return new HttpClientError.HttpClientError({
    reason: new HttpClientError.StatusCodeError({ request, response })
  })
}

/** An `HttpClientError` for a transport failure whose cause has the Node error `code`. */
export const transportError = (code: string): HttpClientError.HttpClientError => {
  const request = HttpClientRequest.get("http://inventory.internal/stock/42")
  // Shaped like undici's `TypeError: fetch failed` wrapping the system error.
  const cause = new TypeError("fetch failed", {
    cause: Object.assign(new Error(`connect ${code}`), { code })
  })
  return new HttpClientError.HttpClientError({
    reason: new HttpClientError.TransportError({ request, cause })
  })
}

/** A `Random` that replays `values` (then repeats the last one). */
export const fixedRandom = (values: ReadonlyArray<number>): Random.Random => {
  let i = 0
  return {
    nextDoubleUnsafe: () => values[Math.min(i++, values.length - 1)],
    nextIntUnsafe: () => 0
  }
}

/** Runs `self` with a fresh metric registry, so tests do not see each other's series. */
export const withFreshMetrics = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.provideService(self, Metric.MetricRegistry, new Map())
