/**
 * What every response carries (security headers, CORS when configured), and the documentation:
 * Swagger UI at `/docs` working offline with a policy of its own, `/openapi.json` the committed
 * document. Downstreams are fakes: none of this depends on them.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { specFile } from "../src/Spec.ts"
import {
  bearer,
  downstreamEnv,
  fetchRaw,
  startFakeInventory,
  startFakeOrder,
  startGateway,
  tokenFor
} from "./support.ts"

const gatewayWith = (env: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const inventory = yield* startFakeInventory
    const order = yield* startFakeOrder
    return yield* startGateway({ ...downstreamEnv(inventory.url, order.url), ...env })
  })

const apiHeaders = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'"
}

describe("security headers", () => {
  it.live("every response carries them: success, contract error, unknown route, health", () =>
    Effect.gen(function* () {
      const gateway = yield* gatewayWith()
      const token = yield* tokenFor("alice")
      const responses = [
        yield* fetchRaw(`${gateway.url}/v1/products/BOLT-M8`, { headers: bearer(token) }),
        yield* fetchRaw(`${gateway.url}/v1/products/MISSING-1`, { headers: bearer(token) }),
        yield* fetchRaw(`${gateway.url}/v1/products`),
        yield* fetchRaw(`${gateway.url}/nowhere`),
        yield* fetchRaw(`${gateway.url}/health/live`)
      ]
      assert.deepStrictEqual(
        responses.map((response) => response.status),
        [200, 404, 401, 404, 200]
      )
      for (const response of responses) {
        for (const [name, value] of Object.entries(apiHeaders))
          assert.strictEqual(response.headers.get(name), value, name)
        assert.isNull(response.headers.get("strict-transport-security"))
        assert.isNull(response.headers.get("access-control-allow-origin"))
      }
    }).pipe(Effect.scoped)
  )

  it.live("HSTS is sent when HSTS_MAX_AGE is set", () =>
    Effect.gen(function* () {
      const gateway = yield* gatewayWith({ HSTS_MAX_AGE: "365 days" })
      const response = yield* fetchRaw(`${gateway.url}/health/live`)
      assert.strictEqual(response.headers.get("strict-transport-security"), "max-age=31536000")
    }).pipe(Effect.scoped)
  )
})

describe("CORS", () => {
  it.live("is off by default: a preflight gets no CORS headers", () =>
    Effect.gen(function* () {
      const gateway = yield* gatewayWith()
      const preflight = yield* fetchRaw(`${gateway.url}/v1/orders`, {
        method: "OPTIONS",
        headers: { origin: "https://shop.example", "access-control-request-method": "POST" }
      })
      assert.isNull(preflight.headers.get("access-control-allow-origin"))
    }).pipe(Effect.scoped)
  )

  it.live("with CORS_ORIGINS, listed origins get preflights answered and headers exposed", () =>
    Effect.gen(function* () {
      const gateway = yield* gatewayWith({ CORS_ORIGINS: "https://shop.example, https://admin.example" })
      const preflight = yield* fetchRaw(`${gateway.url}/v1/orders`, {
        method: "OPTIONS",
        headers: {
          origin: "https://shop.example",
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization, content-type, idempotency-key"
        }
      })
      assert.strictEqual(preflight.status, 204)
      assert.strictEqual(preflight.headers.get("access-control-allow-origin"), "https://shop.example")
      assert.include(preflight.headers.get("access-control-allow-headers") ?? "", "idempotency-key")

      const token = yield* tokenFor("alice")
      const response = yield* fetchRaw(`${gateway.url}/v1/products/BOLT-M8`, {
        headers: { ...bearer(token), origin: "https://shop.example" }
      })
      assert.strictEqual(response.headers.get("access-control-allow-origin"), "https://shop.example")
      assert.include(response.headers.get("access-control-expose-headers") ?? "", "retry-after")

      const stranger = yield* fetchRaw(`${gateway.url}/v1/products/BOLT-M8`, {
        headers: { ...bearer(token), origin: "https://evil.example" }
      })
      assert.isNull(stranger.headers.get("access-control-allow-origin"))
    }).pipe(Effect.scoped)
  )
})

describe("documentation", () => {
  it.live("Swagger UI at /docs loads nothing from elsewhere and allows only its own scripts", () =>
    Effect.gen(function* () {
      const gateway = yield* gatewayWith()
      const docs = yield* fetchRaw(`${gateway.url}/docs`)
      assert.strictEqual(docs.status, 200)
      assert.match(docs.headers.get("content-type") ?? "", /text\/html/)
      assert.include(docs.text, "SwaggerUIBundle")
      // Offline: no script, stylesheet or image is fetched from another origin.
      assert.notMatch(docs.text, /<(script|link|img)[^>]+(src|href)=["']?https?:/i)
      const policy = docs.headers.get("content-security-policy") ?? ""
      assert.match(policy, /^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+'; /)
      assert.include(policy, "frame-ancestors 'none'")
      assert.notInclude(policy, "unsafe-eval")
      assert.notMatch(policy, /script-src[^;]*unsafe-inline/)
    }).pipe(Effect.scoped)
  )

  it.live("/openapi.json is the committed document", () =>
    Effect.gen(function* () {
      const gateway = yield* gatewayWith()
      const served = yield* fetchRaw(`${gateway.url}/openapi.json`)
      assert.strictEqual(served.status, 200)
      assert.deepStrictEqual(served.json, JSON.parse(readFileSync(specFile, "utf8")))
      assert.strictEqual(served.json.openapi, "3.1.0")
    }).pipe(Effect.scoped)
  )
})
