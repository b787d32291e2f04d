/**
 * What the stack prints once every service is ready. `tools/stack/smoke.ts` reads it: it waits
 * for {@link bannerEnd} and checks every `http://localhost:<port>/openapi.json` URL in it.
 */
import { bold } from "./output.ts"

/** The last line of the banner. */
export const bannerEnd = "Press Ctrl-C to stop."

export interface BannerInput {
  /** Seconds from start to ready, e.g. `3.2 s`. */
  readonly took: string
  /** A development token the gateway accepts (customer `demo`). */
  readonly token: string
  readonly services: ReadonlyArray<{ readonly name: string; readonly port: number }>
  readonly runtime: string
}

// ===== BANNER LINES: the one place to add what later work brings (public API, Swagger UI, =====
// ===== dev tokens...). Keep one item per line and the URLs absolute.                     =====
export const bannerLines = ({ took, token, services, runtime }: BannerInput): ReadonlyArray<string> => {
  const url = (port: number) => `http://localhost:${port}`
  const gateway = services.find((service) => service.name === "gateway")
  const width = Math.max(...services.map((service) => service.name.length))
  return [
    "",
    bold(`Stack ready in ${took} (${runtime}).`),
    ...(gateway
      ? [
          `  Gateway:  ${url(gateway.port)}/v1`,
          `  Docs:     ${url(gateway.port)}/docs (Swagger UI)`,
          `  Token:    ${token}`,
          "            (customer demo, 12 h; npm run token -- <customer> [--scope admin] for others)"
        ]
      : []),
    "  OpenAPI:",
    ...services.map((service) => `    ${service.name.padEnd(width)}  ${url(service.port)}/openapi.json`),
    ...(gateway
      ? [
          "  Place an order:",
          `    curl -s -X POST ${url(gateway.port)}/v1/orders \\`,
          `      -H "authorization: Bearer ${token}" \\`,
          '      -H "content-type: application/json" -H "idempotency-key: demo-$(date +%s)" \\',
          `      -d '{"items":[{"sku":"BOLT-M8","quantity":2}],"payment":{"token":"tok_visa"}}'`
        ]
      : []),
    "  Logs:     .data/logs/<service>.log (all lines; --verbose shows them all here too)",
    "  Reset:    npm start -- --reset (deletes .data/: the embedded database and logs)",
    bannerEnd,
    ""
  ]
}
