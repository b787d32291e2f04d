/**
 * What the gateway tests share:
 *
 * - {@link startGateway}: the gateway exactly as `main.ts` builds it (kit, middleware, clients),
 *   in-process on an ephemeral port, with its settings from `env` only;
 * - {@link apiClient}: the client derived from the public contract, with a bearer token;
 * - {@link fetchRaw}: a plain `fetch`, for headers and for requests the client cannot make;
 * - {@link startFakeInventory} / {@link startFakeOrder}: the downstream contracts served
 *   in-process with controllable handlers (slow products, readiness switch, in-memory orders);
 * - {@link Stack}: the real inventory, payment and order services as processes on fresh
 *   databases.
 */
import type { OrderId } from "@acme/contracts"
import { HealthApi } from "@acme/contracts"
import { GatewayApi } from "@acme/contracts/gateway"
import type { Product } from "@acme/contracts/inventory"
import { ProductNotFound, ProductsApi } from "@acme/contracts/inventory"
import type { Order, PlaceOrder } from "@acme/contracts/order"
import {
  IdempotencyKeyReused,
  InvalidOrderCursor,
  OrderAccepted,
  OrderNotCancellable,
  OrderNotFound,
  OrderPlaced,
  OrdersApi
} from "@acme/contracts/order"
import { Readiness, Service } from "@acme/server"
import type { ServiceProcess } from "@acme/testing"
import { awaitReady, startProcess, TestDatabase, TestServer } from "@acme/testing"
import { Context, Effect, Exit, Layer, Redacted, Scope } from "effect"
import { HttpClient, HttpClientRequest, HttpServer } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiClient, HttpApiMiddleware } from "effect/http-api"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import * as jose from "jose"
import { signDevToken } from "../src/Auth/DevToken.ts"
import { defaultAudience, defaultIssuer, developmentSecret } from "../src/Auth/JwtConfig.ts"
import { HttpLive } from "../src/Http.ts"

// ---------------------------------------------------------------------------------------------
// The gateway
// ---------------------------------------------------------------------------------------------

export interface RunningGateway {
  readonly url: string
  readonly logs: ReadonlyArray<Record<string, unknown>>
}

const urlOf = (context: Context.Context<HttpServer.HttpServer>) =>
  HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address)

/** Starts the gateway in the current scope; `env` is its whole environment. */
export const startGateway = (env: Record<string, string>) =>
  Effect.gen(function* () {
    const logs: Array<Record<string, unknown>> = []
    const app = HttpLive.pipe(
      Layer.provideMerge(
        Service.platformTest({ name: "gateway", env, log: (line) => logs.push(JSON.parse(line)) })
      )
    )
    const context = yield* Layer.build(app)
    return { url: urlOf(context), logs } satisfies RunningGateway
  })

/** {@link startGateway} in a scope of its own, for tests that stop it themselves. */
export const startGatewayScoped = (env: Record<string, string>) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const gateway = yield* startGateway(env).pipe(Scope.provide(scope))
    return { ...gateway, stop: Scope.close(scope, Exit.void) }
  })

/** A development token for `subject` (dev secret, default issuer and audience unless given). */
export const tokenFor = (
  subject: string,
  options: Omit<Parameters<typeof signDevToken>[0], "subject"> = {}
) => Effect.promise(() => signDevToken({ subject, ...options }))

/** The client derived from the public contract, sending `token` as its bearer token. */
export const apiClient = (gateway: RunningGateway, token?: string) =>
  HttpApiClient.make(GatewayApi, {
    baseUrl: gateway.url,
    transformClient: (client) =>
      token === undefined ? client : HttpClient.mapRequest(client, HttpClientRequest.bearerToken(token))
  })

export interface RawResponse {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly json: any
}

/** A plain request, read fully; `json` is undefined when the body is not JSON. */
export const fetchRaw = (url: string, init: RequestInit = {}) =>
  Effect.promise(async (): Promise<RawResponse> => {
    const response = await fetch(url, init)
    const text = await response.text()
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    return { status: response.status, headers: response.headers, text, json }
  })

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

// ---------------------------------------------------------------------------------------------
// Fake downstreams: the internal contracts, served in-process
// ---------------------------------------------------------------------------------------------

/** A switch the fake's readiness check reads. */
interface Switch {
  up: boolean
}

const readinessSwitch = (state: Switch) =>
  Layer.effectDiscard(
    Readiness.use((readiness) =>
      readiness.register(
        "switch",
        Effect.suspend(() => (state.up ? Effect.void : Effect.fail("down")))
      )
    )
  )

/**
 * The fakes serve only the groups the gateway calls (at the same paths), so an endpoint added to
 * a downstream contract does not need a fake implementation here.
 */
const FakeInventoryApi = HttpApi.make("inventory")
  .add(HealthApi)
  .add(ProductsApi)
  .middleware(HttpApiMiddleware.ProblemDetails)
const FakeOrderApi = HttpApi.make("order")
  .add(HealthApi)
  .add(OrdersApi)
  .middleware(HttpApiMiddleware.ProblemDetails)

export interface FakeInventory {
  readonly url: string
  readonly setReady: (up: boolean) => void
  /** Requests received per SKU. */
  readonly calls: Map<string, number>
}

const productOf = (sku: string, available = 5): Product =>
  ({ sku, name: `Fake ${sku}`, price: { amount: 1000, currency: "EUR" }, available }) as Product

/** The inventory contract with products from nowhere; `MISSING-*` SKUs are not found. */
export const startFakeInventory = Effect.gen(function* () {
  const calls = new Map<string, number>()
  const state: Switch = { up: true }
  const products = HttpApiBuilder.group(FakeInventoryApi, "products", (handlers) =>
    handlers
      .handle("list", () => Effect.succeed({ items: [productOf("FAKE-1")], nextCursor: null }))
      .handle("get", ({ params }) =>
        Effect.gen(function* () {
          calls.set(params.sku, (calls.get(params.sku) ?? 0) + 1)
          if (params.sku.startsWith("MISSING")) return yield* new ProductNotFound({ sku: params.sku })
          return productOf(params.sku)
        })
      )
      .handle("upsert", () => Effect.die("not used by the gateway"))
      .handle("setStock", ({ params, payload }) => Effect.succeed(productOf(params.sku, payload.available)))
  )
  const context = yield* Layer.build(
    TestServer.layer({ api: FakeInventoryApi, handlers: Layer.mergeAll(products, readinessSwitch(state)) })
  )
  return { url: urlOf(context), setReady: (up) => void (state.up = up), calls } satisfies FakeInventory
})

export interface FakeOrder {
  readonly url: string
  readonly setReady: (up: boolean) => void
  /** Every `Idempotency-Key` the fake received, in order. */
  readonly keys: Array<string>
}

/**
 * The order contract in memory, scoped by customer like the real one: an order is found only
 * under the customer who placed it. `tok_pending` leaves an order PENDING (202); other tokens
 * confirm it at once (201); a cursor `bad` is invalid; a REJECTED order cannot be cancelled
 * (`tok_decline` rejects).
 */
export const startFakeOrder = Effect.gen(function* () {
  const orders = new Map<string, Order>()
  const placedByKey = new Map<string, { readonly body: string; readonly order: Order }>()
  const keys: Array<string> = []
  const state: Switch = { up: true }
  const now = () => new Date().toISOString()
  const ordersGroup = HttpApiBuilder.group(FakeOrderApi, "orders", (handlers) =>
    handlers
      .handle("place", ({ params, headers, payload }) =>
        Effect.gen(function* () {
          const key = headers["idempotency-key"]
          keys.push(key)
          const body = JSON.stringify(payload satisfies PlaceOrder)
          const previous = placedByKey.get(`${params.customerId}/${key}`)
          if (previous !== undefined) {
            if (previous.body !== body) return yield* new IdempotencyKeyReused({})
            return new OrderPlaced(previous.order)
          }
          const pending = payload.payment.token === "tok_pending"
          const declined = payload.payment.token === "tok_decline"
          const order: Order = {
            id: crypto.randomUUID() as OrderId,
            customerId: params.customerId,
            status: pending ? "PENDING" : declined ? "REJECTED" : "CONFIRMED",
            ...(declined ? { reason: "payment_declined" as const, declineReason: "card_declined" } : {}),
            items: payload.items.map((item) =>
              pending ? item : { ...item, unitPrice: { amount: 1000, currency: "EUR" } }
            ),
            ...(pending
              ? {}
              : {
                  total: {
                    amount: payload.items.reduce((sum, item) => sum + item.quantity * 1000, 0),
                    currency: "EUR"
                  }
                }),
            createdAt: now(),
            updatedAt: now()
          }
          orders.set(`${params.customerId}/${order.id}`, order)
          placedByKey.set(`${params.customerId}/${key}`, { body, order })
          return pending ? new OrderAccepted(order) : new OrderPlaced(order)
        })
      )
      .handle("get", ({ params }) => {
        const order = orders.get(`${params.customerId}/${params.orderId}`)
        return order === undefined
          ? Effect.fail(new OrderNotFound({ orderId: params.orderId }))
          : Effect.succeed(order)
      })
      .handle("list", ({ params, query }) =>
        query.cursor === "bad"
          ? Effect.fail(new InvalidOrderCursor({ cursor: query.cursor }))
          : Effect.succeed({
              items: Array.from(orders.values())
                .filter((order) => order.customerId === params.customerId)
                .reverse(),
              nextCursor: null
            })
      )
      .handle("cancel", ({ params }) => {
        const key = `${params.customerId}/${params.orderId}`
        const order = orders.get(key)
        if (order === undefined) return Effect.fail(new OrderNotFound({ orderId: params.orderId }))
        if (order.status === "REJECTED") {
          return Effect.fail(new OrderNotCancellable({ orderId: order.id, orderStatus: order.status }))
        }
        const cancelled: Order = {
          ...order,
          status: "CANCELLED",
          reason: "cancelled_by_customer",
          updatedAt: now()
        }
        orders.set(key, cancelled)
        return Effect.succeed(cancelled)
      })
  )
  const context = yield* Layer.build(
    TestServer.layer({ api: FakeOrderApi, handlers: Layer.mergeAll(ordersGroup, readinessSwitch(state)) })
  )
  return { url: urlOf(context), setReady: (up) => void (state.up = up), keys } satisfies FakeOrder
})

/** What a slow downstream saw of one request. */
export interface SlowRequest {
  /** Resolves when the request has arrived. */
  readonly arrived: Promise<void>
  /** Resolves if the connection closed before the answer was sent: the caller gave up. */
  readonly aborted: Promise<void>
  /** Lets the request be answered. */
  readonly release: () => void
}

/**
 * A bare Node server standing in for inventory, whose `GET /products/:sku` only answers once
 * released (or after 10 s), and which records a request whose connection closes before its
 * answer: the downstream's own view of an aborted call, with no framework in between.
 */
export const startSlowInventory = Effect.gen(function* () {
  interface Entry extends SlowRequest {
    readonly arrive: () => void
    readonly abort: () => void
    readonly released: Promise<void>
  }
  const requests = new Map<string, Entry>()
  const requestFor = (sku: string): Entry => {
    let entry = requests.get(sku)
    if (entry === undefined) {
      const arrived = Promise.withResolvers<void>()
      const aborted = Promise.withResolvers<void>()
      const released = Promise.withResolvers<void>()
      entry = {
        arrived: arrived.promise,
        aborted: aborted.promise,
        released: released.promise,
        release: () => released.resolve(),
        arrive: () => arrived.resolve(),
        abort: () => aborted.resolve()
      }
      requests.set(sku, entry)
    }
    return entry
  }
  const server = createServer((request, response) => {
    const match = /^\/products\/([A-Z0-9-]+)$/.exec(request.url ?? "")
    if (request.url === "/health/ready") {
      response.writeHead(200, { "content-type": "application/json" })
      response.end(JSON.stringify({ status: "ready", checks: {} }))
      return
    }
    if (match === null) {
      response.writeHead(404).end()
      return
    }
    const sku = match[1]!
    const entry = requestFor(sku)
    entry.arrive()
    response.on("close", () => {
      if (!response.writableEnded) entry.abort()
    })
    const timer = setTimeout(() => entry.release(), 10_000)
    void entry.released.then(() => {
      clearTimeout(timer)
      if (response.destroyed) return
      response.writeHead(200, { "content-type": "application/json" })
      response.end(JSON.stringify(productOf(sku)))
    })
  })
  yield* Effect.acquireRelease(
    Effect.callback<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
    () =>
      Effect.callback<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )
  const address = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${address.port}`,
    request: (sku: string): SlowRequest => requestFor(sku)
  }
})

/** The gateway's environment for fake (or real) downstreams at these URLs. */
export const downstreamEnv = (inventory: string, order: string): Record<string, string> => ({
  INVENTORY_URL: inventory,
  ORDER_URL: order
})

// ---------------------------------------------------------------------------------------------
// The real services, as processes
// ---------------------------------------------------------------------------------------------

export const entryOf = (app: "inventory" | "payment" | "order") =>
  fileURLToPath(new URL(`../../${app}/src/main.ts`, import.meta.url))

/** What every downstream process gets: quiet logs, no drain delay (no load balancer here). */
export const processEnv = { LOG_LEVEL: "Warn", SHUTDOWN_DRAIN_DELAY: "0 millis" }

/** Whether the order service can serve the flow, and why not. */
export type OrderState =
  { readonly _tag: "Ready" } | { readonly _tag: "Unavailable"; readonly reason: string }

/**
 * Asks a started order service whether it is up and has its orders endpoints: a 404 with the
 * kit's "no route" problem means the endpoints are not implemented yet.
 */
const orderStateOf = (order: ServiceProcess): Effect.Effect<OrderState> =>
  Effect.raceFirst(
    awaitReady(order, "/health/ready", "30 seconds").pipe(
      Effect.andThen(
        fetchRaw(`${order.url}/customers/probe/orders?limit=1`).pipe(
          Effect.map((response): OrderState =>
            response.status === 200
              ? { _tag: "Ready" }
              : {
                  _tag: "Unavailable",
                  reason: `GET /customers/:id/orders answers ${response.status}: ${response.text.slice(0, 200)}`
                }
          )
        )
      ),
      Effect.catch((error) => Effect.succeed<OrderState>({ _tag: "Unavailable", reason: String(error) }))
    ),
    order.exited.pipe(
      Effect.map((code): OrderState => ({
        _tag: "Unavailable",
        reason: `the process exited with code ${code}: ${order.output().slice(-600)}`
      }))
    )
  )

export class Stack extends Context.Service<
  Stack,
  {
    readonly inventory: ServiceProcess
    readonly payment: ServiceProcess
    readonly order: ServiceProcess
    readonly orderState: OrderState
    /** The gateway's environment pointing at these services. */
    readonly env: Record<string, string>
  }
>()("test/Stack") {
  /**
   * Inventory (with the demo catalog), payment and order as processes on fresh databases, started
   * together. The order service is started whatever its state; `orderState` says if it can serve.
   */
  static readonly layer = Layer.effect(
    Stack,
    Effect.gen(function* () {
      const [inventoryDb, paymentDb, orderDb] = yield* Effect.all(
        [TestDatabase.make, TestDatabase.make, TestDatabase.make],
        { concurrency: "unbounded" }
      )
      const inventory = yield* startProcess(entryOf("inventory"), {
        ...processEnv,
        DATABASE_URL: Redacted.value(inventoryDb.url),
        SEED_DEMO_DATA: "true"
      })
      const payment = yield* startProcess(entryOf("payment"), {
        ...processEnv,
        DATABASE_URL: Redacted.value(paymentDb.url)
      })
      const order = yield* startProcess(entryOf("order"), {
        ...processEnv,
        DATABASE_URL: Redacted.value(orderDb.url),
        INVENTORY_URL: inventory.url,
        PAYMENT_URL: payment.url
      })
      const [, , orderState] = yield* Effect.all(
        [awaitReady(inventory), awaitReady(payment), orderStateOf(order)],
        { concurrency: "unbounded" }
      )
      return { inventory, payment, order, orderState, env: downstreamEnv(inventory.url, order.url) }
    }).pipe(Effect.orDie)
  )
}

// ---------------------------------------------------------------------------------------------
// Tokens that are wrong in one way
// ---------------------------------------------------------------------------------------------

export interface TokenSpec {
  readonly subject?: string | undefined
  readonly issuer?: string | undefined
  readonly audience?: string | undefined
  /** Seconds from now (negative: in the past); undefined leaves `exp` out. */
  readonly expiresIn?: number | undefined
  /** Seconds from now. */
  readonly notBefore?: number | undefined
  readonly claims?: Record<string, unknown> | undefined
}

const now = () => Math.floor(Date.now() / 1000)

const payloadOf = (spec: TokenSpec): jose.JWTPayload => ({
  sub: spec.subject ?? "alice",
  iss: spec.issuer ?? defaultIssuer,
  aud: spec.audience ?? defaultAudience,
  iat: now(),
  ...("expiresIn" in spec
    ? spec.expiresIn === undefined
      ? {}
      : { exp: now() + spec.expiresIn }
    : { exp: now() + 3600 }),
  ...(spec.notBefore === undefined ? {} : { nbf: now() + spec.notBefore }),
  ...spec.claims
})

/** An HS256 token; the development secret unless `secret` is given. */
export const hs256 = (spec: TokenSpec = {}, secret: string = developmentSecret) =>
  Effect.promise(() =>
    new jose.SignJWT(payloadOf(spec))
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .sign(new TextEncoder().encode(secret))
  )

/** A token signed with an asymmetric key (RS256, ES256), with the given `kid`. */
export const signed = (alg: "RS256" | "ES256", key: jose.CryptoKey, kid: string, spec: TokenSpec = {}) =>
  Effect.promise(() =>
    new jose.SignJWT(payloadOf(spec)).setProtectedHeader({ alg, kid, typ: "JWT" }).sign(key)
  )

/** An unsecured token (`alg: none`, empty signature), which must never be accepted. */
export const unsecured = (spec: TokenSpec = {}) => {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
  return `${part({ alg: "none", typ: "JWT" })}.${part(payloadOf(spec))}.`
}
