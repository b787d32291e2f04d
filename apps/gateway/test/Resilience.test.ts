/**
 * How the gateway behaves when things go wrong: a downstream that goes down and comes back (the
 * real inventory service, stopped and restarted), one that is slow (a fake), a client that goes
 * away, too many requests at once, and what readiness and liveness say meanwhile.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Sku } from "@acme/contracts"
import { awaitReady, startProcess, TestDatabase } from "@acme/testing"
import { Effect, Fiber, Redacted, Schedule } from "effect"
import type { Duration } from "effect"
import { FetchHttpClient } from "effect/http"
import { createServer } from "node:net"
import {
  apiClient,
  bearer,
  downstreamEnv,
  entryOf,
  fetchRaw,
  processEnv,
  startFakeInventory,
  startFakeOrder,
  startGateway,
  startSlowInventory,
  tokenFor
} from "./support.ts"

const sku = (value: string) => value as Sku

/** A gateway in front of fake downstreams. */
const withFakes = Effect.gen(function* () {
  const inventory = yield* startFakeInventory
  const order = yield* startFakeOrder
  const gateway = yield* startGateway(downstreamEnv(inventory.url, order.url))
  return { inventory, order, gateway }
})

describe("a downstream that goes down and comes back", () => {
  it.live(
    "fails fast with 503 while its breaker is open, and serves again once it is back",
    () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase.make
        const inventoryEnv = { ...processEnv, DATABASE_URL: Redacted.value(db.url), SEED_DEMO_DATA: "true" }
        const first = yield* startProcess(entryOf("inventory"), inventoryEnv)
        yield* awaitReady(first)
        const port = new URL(first.url).port
        const gateway = yield* startGateway({
          ...downstreamEnv(first.url, "http://127.0.0.1:1"),
          CIRCUIT_BREAKER_FAILURES: "3",
          CIRCUIT_BREAKER_OPEN_DURATION: "1 second"
        })
        const client = yield* apiClient(gateway, yield* tokenFor("alice"))
        const get = client.products.get({ params: { sku: sku("BOLT-M8") } })
        assert.strictEqual((yield* get).sku, "BOLT-M8")

        assert.strictEqual(yield* first.terminate, 0)
        // In its place, something that resets every connection, and counts them.
        const broken = yield* resettingServer(Number(port))
        // Every attempt fails (retried: it is a GET): 503, and the breaker opens.
        const down = yield* get.pipe(Effect.flip)
        assert.strictEqual(down._tag, "ServiceUnavailable")
        const attempts = broken.connections()
        assert.isAtLeast(attempts, 3)

        const token = yield* tokenFor("alice")
        const started = performance.now()
        const open = yield* fetchRaw(`${gateway.url}/v1/products/BOLT-M8`, { headers: bearer(token) })
        const elapsed = performance.now() - started
        assert.strictEqual(open.status, 503)
        assert.strictEqual(open.json.reason, "dependency_unavailable")
        assert.isAtLeast(Number(open.headers.get("retry-after")), 1)
        assert.strictEqual(broken.connections(), attempts, "an open breaker does not try the downstream")
        assert.isBelow(elapsed, 250, "an open breaker answers at once")

        // The same service again, on the same port and database.
        yield* broken.close
        const second = yield* startProcess(entryOf("inventory"), { ...inventoryEnv, PORT: port })
        yield* awaitReady({ ...second, url: first.url })
        // Once the open duration has passed, a probe goes through and closes the breaker.
        const back = yield* get.pipe(
          Effect.retry(Schedule.spaced("200 millis")),
          Effect.timeout("10 seconds")
        )
        assert.strictEqual(back.sku, "BOLT-M8")
      }).pipe(Effect.provide(FetchHttpClient.layer), Effect.scoped),
    60_000
  )
})

/** A TCP server on `port` that accepts each connection and resets it at once, counting them. */
const resettingServer = (port: number) =>
  Effect.gen(function* () {
    let connections = 0
    const server = createServer((socket) => {
      connections++
      socket.resetAndDestroy()
    })
    yield* Effect.callback<void>((resume) => void server.listen(port, "127.0.0.1", () => resume(Effect.void)))
    return {
      connections: () => connections,
      close: Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
    }
  })

/** A gateway in front of the slow inventory, with extra settings. */
const withSlowInventory = (env: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const inventory = yield* startSlowInventory
    const order = yield* startFakeOrder
    const gateway = yield* startGateway({ ...downstreamEnv(inventory.url, order.url), ...env })
    return { inventory, gateway, token: yield* tokenFor("alice") }
  })

const settled = (promise: Promise<void>, within: Duration.Input) =>
  Effect.promise(() => promise).pipe(Effect.timeout(within))

describe("overload", () => {
  it.live("beyond MAX_IN_FLIGHT a request is answered 503 at once, not queued", () =>
    Effect.gen(function* () {
      const { inventory, gateway, token } = yield* withSlowInventory({ MAX_IN_FLIGHT: "2" })
      const get = (name: string) => fetchRaw(`${gateway.url}/v1/products/${name}`, { headers: bearer(token) })
      const [a, b] = [inventory.request("SLOW-A"), inventory.request("SLOW-B")]
      const first = yield* Effect.forkScoped(get("SLOW-A"))
      const second = yield* Effect.forkScoped(get("SLOW-B"))
      yield* settled(a.arrived, "2 seconds")
      yield* settled(b.arrived, "2 seconds")

      const started = performance.now()
      const shed = yield* get("FAST-1")
      assert.isBelow(performance.now() - started, 200)
      assert.strictEqual(shed.status, 503)
      assert.strictEqual(shed.headers.get("content-type"), "application/problem+json")
      assert.strictEqual(shed.json.reason, "overloaded")
      assert.strictEqual(shed.headers.get("retry-after"), "1")

      a.release()
      b.release()
      assert.strictEqual((yield* Fiber.join(first)).status, 200)
      assert.strictEqual((yield* Fiber.join(second)).status, 200)
      // The slots are free again.
      inventory.request("FAST-2").release()
      assert.strictEqual((yield* get("FAST-2")).status, 200)
    }).pipe(Effect.scoped)
  )
})

describe("interruption", () => {
  it.live("a client that disconnects aborts the gateway's downstream call", () =>
    Effect.gen(function* () {
      // Budgets far away, so that only the client going away can end the downstream call.
      const { inventory, gateway, token } = yield* withSlowInventory({
        INVENTORY_TIMEOUT: "30 seconds",
        ROUTE_TIMEOUT_READ: "30 seconds",
        REQUEST_TIMEOUT: "30 seconds"
      })
      const slow = inventory.request("SLOW-ABORT")
      const controller = new AbortController()
      const request = yield* Effect.promise(() =>
        fetch(`${gateway.url}/v1/products/SLOW-ABORT`, {
          headers: bearer(token),
          signal: controller.signal
        }).then(
          () => "answered",
          () => "aborted"
        )
      ).pipe(Effect.forkScoped)
      yield* settled(slow.arrived, "2 seconds")
      controller.abort()
      assert.strictEqual(yield* Fiber.join(request), "aborted")
      // The downstream sees its request go away at once, not when it would have answered (10 s).
      yield* settled(slow.aborted, "1 second")
    }).pipe(Effect.scoped)
  )

  it.live("past the route's time budget the answer is 504 and the downstream call is aborted", () =>
    Effect.gen(function* () {
      const { inventory, gateway, token } = yield* withSlowInventory({ ROUTE_TIMEOUT_READ: "300 millis" })
      const slow = inventory.request("SLOW-TIMEOUT")
      const client = yield* apiClient(gateway, token)
      const started = performance.now()
      const error = yield* client.products.get({ params: { sku: sku("SLOW-TIMEOUT") } }).pipe(Effect.flip)
      assert.strictEqual(error._tag, "GatewayTimeout")
      assert.isBelow(performance.now() - started, 2000)
      yield* settled(slow.aborted, "2 seconds")
    }).pipe(Effect.provide(FetchHttpClient.layer), Effect.scoped)
  )
})

describe("health", () => {
  it.live("readiness is up only while every downstream is ready; liveness ignores them", () =>
    Effect.gen(function* () {
      const { inventory, order, gateway } = yield* withFakes
      const ready = yield* fetchRaw(`${gateway.url}/health/ready`)
      assert.strictEqual(ready.status, 200)
      assert.deepStrictEqual(ready.json.checks, { inventory: "up", order: "up" })

      inventory.setReady(false)
      const notReady = yield* fetchRaw(`${gateway.url}/health/ready`)
      assert.strictEqual(notReady.status, 503)
      assert.deepStrictEqual(notReady.json.checks, { inventory: "down", order: "up" })
      assert.strictEqual((yield* fetchRaw(`${gateway.url}/health/live`)).status, 200)

      inventory.setReady(true)
      order.setReady(false)
      const orderDown = yield* fetchRaw(`${gateway.url}/health/ready`)
      assert.deepStrictEqual(orderDown.json.checks, { inventory: "up", order: "down" })
      assert.strictEqual((yield* fetchRaw(`${gateway.url}/health/live`)).status, 200)
    }).pipe(Effect.scoped)
  )
})
