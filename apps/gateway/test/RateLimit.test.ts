/**
 * The per-caller rate limit across gateway processes. With `REDIS_URL` (the machine's Redis in
 * CI), two gateway processes share one bucket per caller; without it each process has its own
 * (the memory store), and the test that needs a shared Redis is skipped, saying so.
 */
import { assert, describe, it } from "@effect/vitest"
import { awaitReady, startProcess } from "@acme/testing"
import { Effect } from "effect"
import { createConnection, createServer } from "node:net"
import type { AddressInfo, Socket } from "node:net"
import { fileURLToPath } from "node:url"
import {
  bearer,
  downstreamEnv,
  fetchRaw,
  processEnv,
  startFakeInventory,
  startFakeOrder,
  tokenFor
} from "./support.ts"

const redisUrl = process.env["REDIS_URL"]
const gatewayEntry = fileURLToPath(new URL("../src/main.ts", import.meta.url))

/** Two gateway processes in front of fake downstreams, a caller's bucket of 4 refilled slowly. */
const gateways = (count: number, extra: Record<string, string>) =>
  Effect.gen(function* () {
    const inventory = yield* startFakeInventory
    const order = yield* startFakeOrder
    const env = {
      ...processEnv,
      ...downstreamEnv(inventory.url, order.url),
      RATE_LIMIT_BURST: "4",
      RATE_LIMIT_PER_SECOND: "0.1",
      ...extra
    }
    const started = yield* Effect.forEach(
      Array.from({ length: count }),
      () => startProcess(gatewayEntry, env),
      {
        concurrency: "unbounded"
      }
    )
    yield* Effect.forEach(started, (gateway) => awaitReady(gateway, "/health/ready", "90 seconds"), {
      concurrency: "unbounded"
    })
    return started
  })

/** `count` requests of one new caller, spread over `urls` in turn. */
const burst = (urls: ReadonlyArray<string>, count: number) =>
  Effect.gen(function* () {
    const token = yield* tokenFor(`rate-limit-${crypto.randomUUID()}`)
    const responses = []
    for (let i = 0; i < count; i++) {
      responses.push(
        yield* fetchRaw(`${urls[i % urls.length]}/v1/products/FAKE-1`, { headers: bearer(token) })
      )
    }
    return responses
  })

describe("the per-caller rate limit", () => {
  it.live(
    `limits a caller on one process: 429 with Retry-After and RateLimit-* (store: ${redisUrl === undefined ? "memory" : "Redis"})`,
    () =>
      Effect.gen(function* () {
        const [gateway] = yield* gateways(1, redisUrl === undefined ? {} : { REDIS_URL: redisUrl })
        const responses = yield* burst([gateway!.url], 6)
        assert.deepStrictEqual(
          responses.map((response) => response.status),
          [200, 200, 200, 200, 429, 429]
        )
        const limited = responses[4]!
        assert.isAtLeast(Number(limited.headers.get("retry-after")), 1)
        assert.strictEqual(limited.headers.get("ratelimit-limit"), "4")
        assert.strictEqual(limited.headers.get("ratelimit-remaining"), "0")
      }).pipe(Effect.scoped),
    180_000
  )

  it.live.skipIf(redisUrl === undefined)(
    "limits one caller once across two gateway processes sharing Redis (skipped without REDIS_URL: the memory store is per process)",
    () =>
      Effect.gen(function* () {
        const [a, b] = yield* gateways(2, { REDIS_URL: redisUrl! })
        const statuses = (yield* burst([a!.url, b!.url], 8)).map((response) => response.status)
        // Alternating between the processes: 4 admitted in all, not 4 by each.
        assert.deepStrictEqual(statuses, [200, 200, 200, 200, 429, 429, 429, 429])
      }).pipe(Effect.scoped),
    180_000
  )

  it.live.skipIf(redisUrl === undefined)(
    "fails open when Redis goes away after start: requests are admitted, and the store errors counted (skipped without REDIS_URL)",
    () =>
      Effect.gen(function* () {
        // A TCP relay to the real Redis, closed mid-test, stands for a Redis that went down.
        const target = new URL(redisUrl!)
        const sockets = new Set<Socket>()
        const relay = createServer((client) => {
          const upstream = createConnection(Number(target.port || 6379), target.hostname)
          for (const socket of [client, upstream]) {
            sockets.add(socket)
            socket.on("error", () => socket.destroy())
            socket.on("close", () => sockets.delete(socket))
          }
          client.pipe(upstream).pipe(client)
        })
        yield* Effect.acquireRelease(
          Effect.promise(() => new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve))),
          () => Effect.sync(() => relay.close())
        )
        const port = (relay.address() as AddressInfo).port
        const url = new URL(redisUrl!)
        url.host = `127.0.0.1:${port}`
        const [gateway] = yield* gateways(1, { REDIS_URL: url.href })
        assert.deepStrictEqual(
          (yield* burst([gateway!.url], 5)).map((response) => response.status),
          [200, 200, 200, 200, 429],
          "limited while Redis answers"
        )
        relay.close()
        for (const socket of sockets) socket.destroy()
        const statuses = (yield* burst([gateway!.url], 6)).map((response) => response.status)
        assert.deepStrictEqual(statuses, [200, 200, 200, 200, 200, 200], "admitted while it does not")
        const metrics = yield* fetchRaw(`${gateway!.adminUrl}/metrics`)
        assert.match(metrics.text, /gateway_rate_limit_store_errors(_total)?\{?[^\n]*\}? [1-9]/)
      }).pipe(Effect.scoped),
    180_000
  )
})
