import { describe, expect, it } from "@effect/vitest"
import { Context, Schema, SchemaAST } from "effect"
import type { HttpApiGroup, HttpApiMiddleware } from "effect/http-api"
import { HttpApi, HttpApiError } from "effect/http-api"
import { GatewayApi } from "../src/gateway/index.ts"
import { InventoryApi } from "../src/inventory/index.ts"
import { OrderApi } from "../src/order/index.ts"
import { PaymentApi } from "../src/payment/index.ts"

interface ErrorEntry {
  readonly where: string
  readonly schema: Schema.Top
}

/** Every error schema an API can answer with: the endpoints' own and their middlewares'. */
const errorsOf = <Id extends string, Groups extends HttpApiGroup.Constraint>(
  api: HttpApi.HttpApi<Id, Groups>
): Array<ErrorEntry> => {
  const entries: Array<ErrorEntry> = []
  HttpApi.reflect(api, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, group, middleware }) => {
      const where = `${api.identifier}.${group.identifier}.${endpoint.name}`
      for (const schema of endpoint.error) entries.push({ where, schema })
      for (const m of middleware as ReadonlySet<HttpApiMiddleware.AnyService>) {
        for (const schema of m.error) entries.push({ where: `${where} (${m.key})`, schema })
      }
    }
  })
  return entries
}

const annotations = (schema: Schema.Top) => SchemaAST.resolve(schema.ast) ?? {}

/** Every service's API, walked once (each call is checked against its own API's type). */
const errorsByApi = {
  gateway: errorsOf(GatewayApi),
  order: errorsOf(OrderApi),
  inventory: errorsOf(InventoryApi),
  payment: errorsOf(PaymentApi)
}
const allErrors = Object.values(errorsByApi).flat()

describe("contracts", () => {
  it("every API has at least one endpoint with errors to check", () => {
    for (const errors of Object.values(errorsByApi)) expect(errors.length).toBeGreaterThan(0)
  })

  it("every error of every endpoint declares an HTTP status", () => {
    const missing = allErrors
      .filter(({ schema }) => typeof annotations(schema).httpApiStatus !== "number")
      .map(({ where, schema }) => `${where}: ${String(schema.ast)}`)
    expect(missing).toEqual([])
  })

  it("every error of every endpoint is an RFC 9457 problem", () => {
    const notProblems = allErrors
      .filter(({ schema }) => {
        const encoding = annotations(schema)["~httpApiEncoding"] as { contentType?: string } | undefined
        return encoding?.contentType !== "application/problem+json"
      })
      .map(({ where }) => where)
    expect(notProblems).toEqual([])
  })

  it("every API reports every invalid field of a request, not just the first", () => {
    for (const api of [GatewayApi, OrderApi, InventoryApi, PaymentApi]) {
      expect([api.identifier, Context.getOrUndefined(api.annotations, HttpApi.ParseOptions)?.errors]).toEqual(
        [api.identifier, "all"]
      )
    }
  })

  it("the check catches an error declared without a status", () => {
    class NoStatus extends Schema.TaggedError<NoStatus>()("NoStatus", {}) {}
    expect(annotations(NoStatus).httpApiStatus).toBeUndefined()
    expect(annotations(HttpApiError.BadRequestProblem).httpApiStatus).toBe(400)
  })
})
