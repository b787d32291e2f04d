/**
 * The committed OpenAPI document (`apps/gateway/openapi.json`) is the contract as it is: a
 * change to the contract without `npm run openapi -w @acme/gateway` fails here, so every API
 * change shows up in review as a diff of the document.
 */
import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { renderSpec, specFile } from "../src/Spec.ts"

describe("the OpenAPI document", () => {
  it("the committed openapi.json is the one generated from the contract (npm run openapi -w @acme/gateway)", () => {
    const committed: unknown = JSON.parse(readFileSync(specFile, "utf8"))
    expect(committed, "apps/gateway/openapi.json is stale: run `npm run openapi -w @acme/gateway`").toEqual(
      JSON.parse(renderSpec())
    )
  })

  it("documents every /v1 operation with its security and problems", () => {
    const spec = JSON.parse(renderSpec())
    const operations = Object.entries(spec.paths as Record<string, Record<string, any>>).flatMap(
      ([path, item]) => Object.entries(item).map(([method, operation]) => ({ path, method, operation }))
    )
    const v1 = operations.filter(({ path }) => path.startsWith("/v1/"))
    expect(v1.map(({ method, path }) => `${method.toUpperCase()} ${path}`).sort()).toEqual([
      "GET /v1/orders",
      "GET /v1/orders/{id}",
      "GET /v1/products",
      "GET /v1/products/{sku}",
      "POST /v1/orders",
      "POST /v1/orders/{id}/cancel",
      "PUT /v1/products/{sku}/stock"
    ])
    for (const { operation } of v1) {
      expect(operation.security).toEqual([{ bearer: [] }])
      for (const status of ["400", "401", "429", "503", "504"]) {
        expect(Object.keys(operation.responses[status].content)).toEqual(["application/problem+json"])
      }
    }
    expect(spec.components.securitySchemes).toEqual({ bearer: { type: "http", scheme: "Bearer" } })
  })
})
