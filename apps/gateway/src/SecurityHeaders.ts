/**
 * Response headers for a public JSON API, on every response (errors and unknown routes
 * included, whoever produced them):
 *
 * - `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`;
 * - `Cache-Control: no-store`: responses are per caller; no shared cache should keep them;
 * - `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'`: a JSON response has
 *   no business loading anything or being framed. `/docs` (Swagger UI, an HTML page with its
 *   JavaScript and CSS inlined, so it works offline) gets its own policy, allowing exactly its
 *   inline scripts by hash;
 * - `Strict-Transport-Security` when `HSTS_MAX_AGE` is set (off by default: TLS usually ends at
 *   the load balancer, and a local `http://` gateway must not pin browsers to HTTPS);
 * - CORS when `CORS_ORIGINS` lists origins (comma-separated, or `*`); off by default, so
 *   browsers on other origins cannot call the API at all.
 */
import { Duration, Effect, Layer } from "effect"
import type { HttpServerRequest } from "effect/http"
import { HttpEffect, HttpRouter, HttpServerResponse } from "effect/http"
import { createHash } from "node:crypto"
import * as Settings from "./Settings.ts"

/** Where Swagger UI is served. */
export const docsPath = "/docs"

const apiPolicy = "default-src 'none'; frame-ancestors 'none'"

/**
 * The policy of the docs page: its inline scripts by hash (the spec's JSON block is data, not
 * script), inline styles (Swagger UI sets style attributes), images from data URLs, and calls to
 * this origin only (its "Try it out").
 */
const docsPolicy = (html: string) => {
  const hashes = Array.from(html.matchAll(/<script>([\s\S]*?)<\/script>/g), ([, script]) => {
    return `'sha256-${createHash("sha256")
      .update(script ?? "")
      .digest("base64")}'`
  })
  return [
    "default-src 'none'",
    `script-src ${hashes.join(" ")}`,
    "style-src 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'"
  ].join("; ")
}

const pathOf = (request: HttpServerRequest.HttpServerRequest) => {
  const end = request.url.search(/[?#]/)
  return end === -1 ? request.url : request.url.slice(0, end)
}

/** Adds the security headers to every response. */
const securityHeaders = (settings: Settings.SecuritySettings) => {
  const common: Record<string, string> = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store"
  }
  if (Duration.isPositive(settings.hstsMaxAge)) {
    common["strict-transport-security"] = `max-age=${Math.floor(Duration.toSeconds(settings.hstsMaxAge))}`
  }
  // The docs page is the same for the life of the process: its policy is computed once.
  let docs: string | undefined
  const policyFor = (
    request: HttpServerRequest.HttpServerRequest,
    response: HttpServerResponse.HttpServerResponse
  ) => {
    if (response.status !== 200 || pathOf(request) !== docsPath || response.body._tag !== "Uint8Array") {
      return apiPolicy
    }
    return (docs ??= docsPolicy(new TextDecoder().decode(response.body.body)))
  }
  const handler: HttpEffect.PreResponseHandler = (request, response) =>
    Effect.succeed(
      HttpServerResponse.setHeaders(response, {
        ...common,
        "content-security-policy": policyFor(request, response)
      })
    )
  return HttpRouter.middleware(
    (httpEffect) => Effect.flatMap(HttpEffect.appendPreResponseHandler(handler), () => httpEffect),
    { global: true }
  )
}

/** CORS for the configured origins, with the headers a browser client needs to read. */
const cors = (origins: ReadonlyArray<string>) =>
  HttpRouter.cors({
    allowedOrigins: origins,
    allowedMethods: ["GET", "PUT", "POST"],
    allowedHeaders: ["authorization", "content-type", "idempotency-key", "x-request-id"],
    exposedHeaders: [
      "location",
      "retry-after",
      "ratelimit-limit",
      "ratelimit-remaining",
      "ratelimit-reset",
      "ratelimit-policy",
      "www-authenticate",
      "x-request-id"
    ],
    maxAge: 600
  })

/** The security headers, and CORS when configured (global router middleware). */
export const SecurityHeadersLive = Layer.unwrap(
  Effect.map(Settings.security, (settings) =>
    settings.corsOrigins.length === 0
      ? securityHeaders(settings)
      : Layer.mergeAll(securityHeaders(settings), cors(settings.corsOrigins))
  )
)
