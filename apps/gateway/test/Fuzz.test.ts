/**
 * Property-based fuzzing of the public API from its OpenAPI document (`openapi.json`), against
 * the real inventory, payment and order services (see `Stack` in support.ts) with the gateway
 * in-process in front of them. For every operation of the document, fast-check generates
 * requests: path, query, headers and bodies drawn from the declared schemas, bent out of them
 * (wrong types, bounds, extra fields), or arbitrary (any JSON, malformed JSON, odd strings),
 * with a valid token most of the time. Every answer must:
 * - not be a 500, and have a status the document declares for the operation;
 * - if an error, be `application/problem+json` whose `status` is the HTTP status;
 * - match the schema the document declares for that status (2xx and errors alike);
 * - leak nothing internal (stack traces, file paths, SQL, downstream addresses, customer ids).
 * A failure is shrunk by fast-check to the smallest request that shows it.
 */
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { FetchHttpClient } from "effect/http"
import fc from "fast-check"
import { readFileSync } from "node:fs"
import type { RunningGateway } from "./support.ts"
import { Stack, startGateway, tokenFor } from "./support.ts"

// ---------------------------------------------------------------------------------------------
// The document, and the part of JSON Schema it uses
// ---------------------------------------------------------------------------------------------

interface JsonSchema {
  readonly $ref?: string
  readonly type?: string
  readonly enum?: ReadonlyArray<unknown>
  readonly pattern?: string
  readonly minLength?: number
  readonly maxLength?: number
  readonly minimum?: number
  readonly maximum?: number
  readonly minItems?: number
  readonly maxItems?: number
  readonly properties?: Record<string, JsonSchema>
  readonly required?: ReadonlyArray<string>
  readonly additionalProperties?: boolean | JsonSchema
  readonly items?: JsonSchema
  readonly anyOf?: ReadonlyArray<JsonSchema>
}

interface Operation {
  readonly method: string
  readonly path: string
  readonly parameters?: ReadonlyArray<{ name: string; in: string; required?: boolean; schema: JsonSchema }>
  readonly requestBody?: { content: Record<string, { schema: JsonSchema }> }
  readonly responses: Record<string, { content?: Record<string, { schema: JsonSchema }> }>
  readonly security?: ReadonlyArray<unknown>
}

const document = JSON.parse(readFileSync(new URL("../openapi.json", import.meta.url), "utf8")) as {
  paths: Record<string, Record<string, Omit<Operation, "method" | "path">>>
  components: { schemas: Record<string, JsonSchema> }
}

const operations: ReadonlyArray<Operation> = Object.entries(document.paths).flatMap(([path, methods]) =>
  Object.entries(methods).map(([method, operation]) => ({ ...operation, method: method.toUpperCase(), path }))
)

const resolve = (schema: JsonSchema): JsonSchema =>
  schema.$ref === undefined ? schema : resolve(document.components.schemas[schema.$ref.split("/").pop()!]!)

/** Where `value` breaks `schema`, or undefined if it matches. */
const violation = (schema0: JsonSchema, value: unknown, at = "$"): string | undefined => {
  const schema = resolve(schema0)
  if (schema.anyOf)
    return schema.anyOf.some((option) => violation(option, value, at) === undefined)
      ? undefined
      : `${at}: matches no option of anyOf`
  if (schema.enum && !schema.enum.includes(value)) return `${at}: ${JSON.stringify(value)} not in enum`
  switch (schema.type) {
    case "string":
      if (typeof value !== "string") return `${at}: not a string`
      if (schema.pattern && !new RegExp(schema.pattern, "u").test(value))
        return `${at}: does not match the pattern`
      if (schema.minLength !== undefined && value.length < schema.minLength) return `${at}: too short`
      if (schema.maxLength !== undefined && value.length > schema.maxLength) return `${at}: too long`
      return undefined
    case "integer":
    case "number":
      if (typeof value !== "number" || (schema.type === "integer" && !Number.isInteger(value)))
        return `${at}: not an ${schema.type}`
      if (schema.minimum !== undefined && value < schema.minimum) return `${at}: below the minimum`
      if (schema.maximum !== undefined && value > schema.maximum) return `${at}: above the maximum`
      return undefined
    case "boolean":
      return typeof value === "boolean" ? undefined : `${at}: not a boolean`
    case "null":
      return value === null ? undefined : `${at}: not null`
    case "array":
      if (!Array.isArray(value)) return `${at}: not an array`
      if (schema.minItems !== undefined && value.length < schema.minItems) return `${at}: too few items`
      if (schema.maxItems !== undefined && value.length > schema.maxItems) return `${at}: too many items`
      for (const [i, item] of value.entries()) {
        const found = schema.items ? violation(schema.items, item, `${at}[${i}]`) : undefined
        if (found) return found
      }
      return undefined
    case "object": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) return `${at}: not an object`
      const record = value as Record<string, unknown>
      for (const key of schema.required ?? []) if (!(key in record)) return `${at}.${key}: missing`
      for (const [key, item] of Object.entries(record)) {
        const property = schema.properties?.[key]
        if (property) {
          const found = violation(property, item, `${at}.${key}`)
          if (found) return found
        } else if (schema.additionalProperties === false) return `${at}.${key}: not declared`
      }
      return undefined
    }
    default:
      return undefined
  }
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

const skus = ["BOLT-M8", "NUT-M8", "WASHER-M8", "LEVEL-60", "NOPE-1"]

/** Values of `schema`, mostly valid, sometimes just outside it. */
const near = (schema0: JsonSchema): fc.Arbitrary<unknown> => {
  const schema = resolve(schema0)
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map(near))
  if (schema.enum) return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...schema.enum) }, fc.string())
  switch (schema.type) {
    case "string":
      return fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...skus, "tok_visa", "tok_decline", "EUR", "USD") },
        fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 300) }),
        fc.string({ unit: "grapheme", maxLength: 20 }),
        fc.constant(""),
        fc.constant("x".repeat((schema.maxLength ?? 300) + 1))
      )
    case "integer":
    case "number":
      return fc.oneof(
        {
          weight: 3,
          arbitrary: fc.integer({ min: schema.minimum ?? -10, max: Math.min(schema.maximum ?? 1e6, 20) })
        },
        fc.constantFrom(0, -1, (schema.maximum ?? 1e12) + 1, 2 ** 53, 1.5, Number.MAX_SAFE_INTEGER),
        fc.string({ maxLength: 5 })
      )
    case "boolean":
      return fc.oneof(fc.boolean(), fc.constant("true"))
    case "array":
      return fc.array(schema.items ? near(schema.items) : fc.jsonValue(), {
        minLength: 0,
        maxLength: Math.min((schema.maxItems ?? 4) + 1, 6)
      })
    case "object": {
      const properties = Object.entries(schema.properties ?? {})
      return fc
        .tuple(
          fc.record(Object.fromEntries(properties.map(([key, value]) => [key, near(value)])), {
            requiredKeys: [...(schema.required ?? [])].filter((key) => key in (schema.properties ?? {}))
          }),
          fc.option(
            fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }),
            {
              freq: 5
            }
          ),
          fc.subarray([...(schema.required ?? [])], { maxLength: 1 })
        )
        .map(([record, extra, dropped]) => {
          const value: Record<string, unknown> = { ...extra, ...record }
          // Sometimes a required field goes missing.
          for (const key of dropped) if (Math.abs(JSON.stringify(record).length % 7) === 0) delete value[key]
          return value
        })
    }
    default:
      return fc.jsonValue({ maxDepth: 2 })
  }
}

/** Header values fetch can send: printable ASCII. */
const headerText = (maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength })

const segment = (name: string, ids: ReadonlyArray<string>) =>
  fc
    .oneof(
      name === "sku"
        ? fc.constantFrom(...skus)
        : fc.oneof(fc.uuid(), fc.constant(ids[0] ?? "00000000-0000-4000-8000-000000000000")),
      fc.string({ maxLength: 60 }),
      fc.string({ unit: "grapheme", maxLength: 10 }),
      fc.constantFrom("..", "%00", "a/b", " ", "-1", "x".repeat(300))
    )
    .filter((value) => value !== "" && value !== "." && value !== "..")

interface FuzzRequest {
  readonly url: string
  readonly init: RequestInit
}

const requests = (
  operation: Operation,
  base: string,
  tokens: ReadonlyArray<string>,
  ids: ReadonlyArray<string>
) => {
  const parameters = operation.parameters ?? []
  const pathParams = parameters.filter((p) => p.in === "path")
  const query = parameters.filter((p) => p.in === "query")
  const bodySchema = operation.requestBody?.content["application/json"]?.schema
  return fc
    .record({
      path: fc.tuple(...pathParams.map((p) => segment(p.name, ids))),
      query: fc.tuple(
        ...query.map((p) => fc.option(fc.oneof(near(p.schema).map(String), headerText(30)), { freq: 3 }))
      ),
      token: fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom(...tokens) },
        fc.constant(undefined),
        headerText(40),
        fc.constant("Bearer e30.e30.")
      ),
      key: fc.oneof({ weight: 4, arbitrary: fc.uuid() }, fc.constant(undefined), headerText(300)),
      body: fc.oneof(
        {
          weight: 4,
          arbitrary: bodySchema ? near(bodySchema).map((v) => JSON.stringify(v)) : fc.constant(undefined)
        },
        fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
        fc.constantFrom(
          '{"items":',
          "null",
          "[]",
          "",
          "{}",
          "\u0000",
          '{"items":[{"sku":"BOLT-M8","quantity":1e400}]}'
        ),
        fc.string({ maxLength: 50 })
      ),
      contentType: fc.constantFrom("application/json", "application/json", "text/plain", undefined)
    })
    .map(({ body, contentType, key, path, query: values, token }): FuzzRequest => {
      let url = operation.path
      pathParams.forEach((p, i) => (url = url.replace(`{${p.name}}`, encodeURIComponent(path[i]!))))
      const search = new URLSearchParams()
      query.forEach((p, i) => {
        if (values[i] !== null && values[i] !== undefined) search.set(p.name, values[i]!)
      })
      const headers: Record<string, string> = {}
      if (token !== undefined) headers["authorization"] = token.startsWith("ey") ? `Bearer ${token}` : token
      if (key !== undefined && operation.method === "POST") headers["idempotency-key"] = key
      const sendsBody = operation.method !== "GET" && body !== undefined
      if (sendsBody && contentType !== undefined) headers["content-type"] = contentType
      return {
        url: `${base}${url}${search.size > 0 ? `?${search}` : ""}`,
        init: { method: operation.method, headers, ...(sendsBody ? { body } : {}) }
      }
    })
}

// ---------------------------------------------------------------------------------------------
// What an answer must be
// ---------------------------------------------------------------------------------------------

/** What must never reach a caller. */
const leaks = (downstreams: ReadonlyArray<string>) => [
  /\.(ts|js):\d+/, // a stack frame
  /node_modules/,
  /SqlError|PgClient|postgres:\/\/|SELECT |INSERT /i,
  /ECONNREFUSED|ECONNRESET|EPIPE/,
  /customerId|customer_id|token_hash|paymentToken/,
  ...downstreams.map((url) => new RegExp(new URL(url).host.replace(/\./g, "\\."))),
  /tok_visa/ // a card token echoed back
]

/**
 * Statuses the service kit may answer on any route, whatever the contract declares (see
 * libs/server): no route (404, e.g. a path segment longer than the router takes), wrong method
 * (405), body too large (413), body of a media type the endpoint does not read (415). Their
 * body is the kit's generic problem.
 */
const kitStatuses = new Set([404, 405, 413, 415])
const genericProblem: JsonSchema = {
  type: "object",
  properties: {
    type: { type: "string" },
    title: { type: "string" },
    status: { type: "integer" },
    detail: { type: "string" }
  },
  required: ["type", "title", "status"],
  additionalProperties: false
}

/** Members the kit adds to every problem (RFC 9457 extensions), declared or not. */
const withoutKitMembers = (json: unknown) => {
  if (typeof json !== "object" || json === null) return json
  const {
    instance: _instance,
    requestId: _requestId,
    traceId: _traceId,
    ...rest
  } = json as Record<string, unknown>
  return rest
}

const judge = (
  operation: Operation,
  status: number,
  contentType: string,
  text: string,
  patterns: ReadonlyArray<RegExp>
) => {
  const findings: Array<string> = []
  if (status === 500) findings.push("500")
  const declared = operation.responses[String(status)]
  if (declared === undefined && !kitStatuses.has(status)) findings.push(`status ${status} not declared`)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    findings.push("body is not JSON")
  }
  if (status >= 400) {
    if (!contentType.startsWith("application/problem+json")) findings.push(`error as ${contentType}`)
    const problem = json as { status?: unknown; title?: unknown } | undefined
    if (problem?.status !== status)
      findings.push(`problem status ${String(problem?.status)} on HTTP ${status}`)
    if (typeof problem?.title !== "string") findings.push("problem without a title")
  } else if (!contentType.startsWith("application/json")) findings.push(`success as ${contentType}`)
  const schema = declared?.content && Object.values(declared.content)[0]?.schema
  if (json !== undefined) {
    const value = status >= 400 ? withoutKitMembers(json) : json
    const found =
      schema === undefined
        ? status >= 400
          ? violation(genericProblem, value)
          : undefined
        : kitStatuses.has(status) && violation(genericProblem, value) === undefined
          ? undefined
          : violation(schema, value)
    if (found) findings.push(`body does not match the declared schema: ${found}`)
  }
  for (const pattern of patterns) if (pattern.test(text)) findings.push(`leaks ${pattern}`)
  return findings
}

// ---------------------------------------------------------------------------------------------

class Env extends Context.Service<
  Env,
  { readonly gateway: RunningGateway; readonly downstreams: ReadonlyArray<string> }
>()("test/FuzzEnv") {
  static readonly layer = Layer.effect(
    Env,
    Effect.gen(function* () {
      const { env, inventory, order, payment } = yield* Stack
      // Limits out of the way: a 429 is declared, but would hide the rest.
      const gateway = yield* startGateway({
        ...env,
        RATE_LIMIT_BURST: "1000000",
        RATE_LIMIT_PER_SECOND: "1000000"
      })
      return { gateway, downstreams: [inventory.url, order.url, payment.url] }
    })
  ).pipe(Layer.provideMerge(Stack.layer), Layer.provideMerge(FetchHttpClient.layer))
}

/** Cases per operation. */
const runs = Number(process.env["FUZZ_RUNS"] ?? 100)

layer(Env.layer, { timeout: "300 seconds", excludeTestServices: true })(
  "the public API, fuzzed from its OpenAPI document",
  (it) => {
    it.effect(
      `${operations.length} operations, ${runs} generated requests each: no 500, declared statuses and shapes, problem+json errors, no leak`,
      () =>
        Effect.gen(function* () {
          const { downstreams, gateway } = yield* Env
          const tokens = [
            yield* tokenFor("fuzz-alice"),
            yield* tokenFor("fuzz-bob"),
            yield* tokenFor("fuzz-admin", { scopes: ["admin"] })
          ]
          const patterns = leaks(downstreams)
          const ids: Array<string> = []
          const failures: Array<string> = []
          let cases = 0
          for (const operation of operations) {
            const result = yield* Effect.promise(() =>
              fc.check(
                fc.asyncProperty(requests(operation, gateway.url, tokens, ids), async ({ init, url }) => {
                  cases++
                  const response = await fetch(url, init)
                  const text = await response.text()
                  const findings = judge(
                    operation,
                    response.status,
                    response.headers.get("content-type") ?? "",
                    text,
                    patterns
                  )
                  if (response.status === 201 || response.status === 202) ids.push(JSON.parse(text).id)
                  if (findings.length > 0)
                    throw new Error(
                      `${init.method} ${url} -> ${response.status} ${text.slice(0, 300)}: ${findings.join("; ")}`
                    )
                }),
                { numRuns: runs, seed: Number(process.env["FUZZ_SEED"] ?? Date.now() % 2 ** 31) }
              )
            )
            if (result.failed)
              failures.push(
                `${operation.method} ${operation.path} (seed ${result.seed}): ${String(result.errorInstance instanceof Error ? result.errorInstance.message : result.errorInstance)}`
              )
          }
          console.log(
            `fuzz: ${cases} requests over ${operations.length} operations, ${failures.length} failing`
          )
          assert.deepStrictEqual(failures, [])
        }),
      { timeout: 240_000 }
    )
  }
)
