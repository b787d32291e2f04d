/**
 * A small contract, a scripted transport that answers it, and the composed client over both:
 * the behaviour tests drive `Downstream.client` exactly as the services use it.
 */
import { Effect, Metric, Random, Schema } from "effect"
import { HttpClient, HttpClientResponse } from "effect/http"
import type { HttpClientRequest } from "effect/http"
import { HttpApi, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { Downstream, RetryPolicy } from "../src/index.ts"

export class ItemNotFound extends Schema.TaggedError<ItemNotFound>()(
  "ItemNotFound",
  { id: Schema.String },
  { httpApiStatus: 404 }
) {}

const Item = Schema.Struct({ id: Schema.String })

export const TestApi = HttpApi.make("test").add(
  HttpApiGroup.make("items").add(
    HttpApiEndpoint.get("get", "/items/:id", {
      params: { id: Schema.String },
      success: Item,
      error: ItemNotFound
    }),
    HttpApiEndpoint.post("create", "/items", {
      payload: Item,
      headers: { "idempotency-key": Schema.optional(Schema.String) },
      success: Item
    })
  )
)

/** What the scripted downstream answers: a status (and headers), or never. */
export type Answer = number | { readonly status: number; readonly headers?: Record<string, string> } | "hang"

/** A transport that answers from `script` (the last answer repeats) and records each request. */
export const scripted = (script: ReadonlyArray<Answer>) => {
  const requests: Array<HttpClientRequest.HttpClientRequest> = []
  const transport = HttpClient.make((request) =>
    Effect.suspend(() => {
      const answer = script[Math.min(requests.length, script.length - 1)]!
      requests.push(request)
      if (answer === "hang") return Effect.never
      const { status, headers } = typeof answer === "number" ? { status: answer, headers: {} } : answer
      const body =
        status === 200
          ? JSON.stringify({ id: "a" })
          : status === 404
            ? '{"_tag":"ItemNotFound","id":"a"}'
            : null
      return Effect.succeed(
        HttpClientResponse.fromWeb(
          request,
          new Response(body, { status, headers: { "content-type": "application/json", ...headers } })
        )
      )
    })
  )
  return { transport, requests }
}

export const policy = {
  timeout: "1 second",
  retry: RetryPolicy.transient,
  breaker: { failures: 3, openDuration: "10 seconds" }
} satisfies Downstream.Policy

/** The composed client over `transport`. */
export const downstream = (transport: HttpClient.HttpClient, overrides: Partial<Downstream.Policy> = {}) =>
  Downstream.client(TestApi, {
    name: "items",
    baseUrl: "http://items.internal",
    ...policy,
    ...overrides
  }).pipe(Effect.provideService(HttpClient.HttpClient, transport))

/** A `Random` that always draws `value`, so the jittered delay is its bound times `value`. */
export const withRandom = (value: number) =>
  Effect.provideService(Random.Random, { nextDoubleUnsafe: () => value, nextIntUnsafe: () => 0 })

/** Runs `self` with a fresh metric registry, so tests do not see each other's series. */
export const withFreshMetrics = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.provideService(self, Metric.MetricRegistry, new Map())
