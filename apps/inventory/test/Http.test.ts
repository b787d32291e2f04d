/**
 * The contract end to end: the real handlers served by the service kit on an ephemeral port,
 * called through the client derived from `InventoryApi` (every endpoint, every error status),
 * and with raw requests for what that client would refuse to send.
 */
import {
  AmountTooLarge,
  InvalidCursor,
  InventoryApi,
  InvalidReservationState,
  MixedCurrencies,
  OutOfStock,
  ProductCreated,
  ProductNotFound,
  ReservationCreated,
  ReservationMismatch,
  ReservationNotFound,
  UnknownProducts
} from "@acme/contracts/inventory"
import { TestServer } from "@acme/testing"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer, Result } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { HttpApiClient } from "effect/http-api"
import { HandlersLive } from "../src/Http.ts"
import { eur, givenProduct, layerApp, newId, stockOf, uniqueSku } from "./support.ts"

const ServerLive = TestServer.layer({ api: InventoryApi, handlers: HandlersLive }).pipe(
  Layer.provideMerge(layerApp())
)

interface Problem {
  readonly type: string
  readonly status: number
  readonly detail?: string
  readonly errors?: ReadonlyArray<{ readonly path: ReadonlyArray<string | number>; readonly message: string }>
  readonly [key: string]: unknown
}

/** Sends a raw request; the status, content type and JSON body of the answer. */
const send = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.gen(function* () {
    const response = yield* HttpClient.execute(request)
    return {
      status: response.status,
      contentType: response.headers["content-type"] ?? "",
      body: (yield* response.json) as unknown as Problem
    }
  })

const postJson = (url: string, text: string) =>
  send(HttpClientRequest.post(url).pipe(HttpClientRequest.bodyText(text, "application/json")))

/** A 400 problem+json whose detail and errors name `field`. */
const assertBadRequest = (answer: Effect.Success<ReturnType<typeof send>>, field: string) => {
  assert.strictEqual(answer.status, 400)
  assert.match(answer.contentType, /^application\/problem\+json/)
  assert.include(answer.body.detail ?? "", `${field}:`)
  assert.include(
    answer.body.errors?.map((e) => e.path.join(".")) ?? [],
    field,
    `errors: ${JSON.stringify(answer.body.errors)}`
  )
}

describe("inventory HTTP API", () => {
  layer(ServerLive, { excludeTestServices: true })("through the derived client", (it) => {
    it.effect("products: upsert answers 201 then 200, get, setStock, list", () =>
      Effect.gen(function* () {
        const client = yield* HttpApiClient.make(InventoryApi)
        const sku = uniqueSku()
        const body = { name: "Hex bolt", price: eur(129), available: 5 }
        const created = yield* client.products.upsert({ params: { sku }, payload: body })
        assert.instanceOf(created, ProductCreated)
        const replaced = yield* client.products.upsert({
          params: { sku },
          payload: { ...body, available: 6 }
        })
        assert.isFalse(replaced instanceof ProductCreated)
        assert.deepStrictEqual({ ...replaced }, { sku, ...body, available: 6 })

        assert.deepStrictEqual(yield* client.products.get({ params: { sku } }), {
          sku,
          ...body,
          available: 6
        })
        const stocked = yield* client.products.setStock({ params: { sku }, payload: { available: 9 } })
        assert.strictEqual(stocked.available, 9)

        yield* client.products.upsert({ params: { sku: uniqueSku() }, payload: body })
        const page = yield* client.products.list({ query: { limit: 1 } })
        assert.strictEqual(page.items.length, 1)
        assert.isString(page.nextCursor)
        const next = yield* client.products.list({ query: { limit: 1, cursor: page.nextCursor! } })
        assert.isTrue(next.items[0].sku > page.items[0].sku)
      })
    )

    it.effect("products: 404 for an unknown SKU, 400 for a bad cursor", () =>
      Effect.gen(function* () {
        const client = yield* HttpApiClient.make(InventoryApi)
        const sku = uniqueSku("NOPE")
        const notFound = yield* Effect.flip(client.products.get({ params: { sku } }))
        assert.instanceOf(notFound, ProductNotFound)
        if (notFound instanceof ProductNotFound) {
          assert.strictEqual(notFound.sku, sku)
          assert.strictEqual(notFound.instance, `/products/${sku}`)
        }
        const noStock = yield* Effect.flip(
          client.products.setStock({ params: { sku }, payload: { available: 1 } })
        )
        assert.instanceOf(noStock, ProductNotFound)
        const badCursor = yield* Effect.flip(client.products.list({ query: { cursor: "garbage" } }))
        assert.instanceOf(badCursor, InvalidCursor)
      })
    )

    it.effect("reservations: create 201, repeat 200 with the same body, get, commit, release", () =>
      Effect.gen(function* () {
        const client = yield* HttpApiClient.make(InventoryApi)
        const sku = yield* givenProduct(10, eur(300))
        const id = newId()
        const payload = { reservationId: id, items: [{ sku, quantity: 2 }] }
        const created = yield* client.reservations.create({ payload })
        assert.instanceOf(created, ReservationCreated)
        assert.strictEqual(created.state, "RESERVED")
        assert.deepStrictEqual(created.total, eur(600))
        const repeated = yield* client.reservations.create({ payload })
        assert.isFalse(repeated instanceof ReservationCreated)
        assert.deepStrictEqual({ ...repeated }, { ...created })
        assert.deepStrictEqual(yield* client.reservations.get({ params: { reservationId: id } }), {
          ...created
        })
        const committed = yield* client.reservations.commit({ params: { reservationId: id } })
        assert.strictEqual(committed.state, "COMMITTED")

        const other = newId()
        yield* client.reservations.create({
          payload: { reservationId: other, items: [{ sku, quantity: 1 }] }
        })
        const released = yield* client.reservations.release({ params: { reservationId: other } })
        assert.strictEqual(released.state, "RELEASED")
        assert.strictEqual(yield* stockOf(sku), 8)
      })
    )

    it.effect(
      "reservations: 409 out of stock, 409 id reused, 422 unknown SKU, 422 currencies, 422 amount",
      () =>
        Effect.gen(function* () {
          const client = yield* HttpApiClient.make(InventoryApi)
          const sku = yield* givenProduct(1)
          const dollars = yield* givenProduct(5, { amount: 100, currency: "USD" })
          const pricey = yield* givenProduct(5, eur(1_000_000_000_000))
          const create = (
            items: ReadonlyArray<{ readonly sku: typeof sku; readonly quantity: number }>,
            id = newId()
          ) => Effect.flip(client.reservations.create({ payload: { reservationId: id, items } }))

          const short = yield* create([{ sku, quantity: 2 }])
          assert.instanceOf(short, OutOfStock)
          if (short instanceof OutOfStock)
            assert.deepStrictEqual(short.items, [{ sku, requested: 2, available: 1 }])

          const id = newId()
          yield* client.reservations.create({ payload: { reservationId: id, items: [{ sku, quantity: 1 }] } })
          assert.instanceOf(yield* create([{ sku: dollars, quantity: 1 }], id), ReservationMismatch)

          const unknown = uniqueSku("NOPE")
          const notKnown = yield* create([{ sku: unknown, quantity: 1 }])
          assert.instanceOf(notKnown, UnknownProducts)
          if (notKnown instanceof UnknownProducts) assert.deepStrictEqual(notKnown.skus, [unknown])

          assert.instanceOf(
            yield* create([
              { sku: dollars, quantity: 1 },
              { sku: pricey, quantity: 1 }
            ]),
            MixedCurrencies
          )
          assert.instanceOf(yield* create([{ sku: pricey, quantity: 2 }]), AmountTooLarge)
        })
    )

    it.effect("reservations: 404 for an unknown id, 409 for an illegal transition", () =>
      Effect.gen(function* () {
        const client = yield* HttpApiClient.make(InventoryApi)
        const params = { reservationId: newId() }
        assert.instanceOf(yield* Effect.flip(client.reservations.get({ params })), ReservationNotFound)
        assert.instanceOf(yield* Effect.flip(client.reservations.commit({ params })), ReservationNotFound)
        assert.instanceOf(yield* Effect.flip(client.reservations.release({ params })), ReservationNotFound)

        const sku = yield* givenProduct(10)
        const committed = newId()
        yield* client.reservations.create({
          payload: { reservationId: committed, items: [{ sku, quantity: 1 }] }
        })
        yield* client.reservations.commit({ params: { reservationId: committed } })
        const noRelease = yield* Effect.flip(
          client.reservations.release({ params: { reservationId: committed } })
        )
        assert.instanceOf(noRelease, InvalidReservationState)
        if (noRelease instanceof InvalidReservationState) assert.strictEqual(noRelease.state, "COMMITTED")

        const released = newId()
        yield* client.reservations.create({
          payload: { reservationId: released, items: [{ sku, quantity: 1 }] }
        })
        yield* client.reservations.release({ params: { reservationId: released } })
        const noCommit = yield* Effect.flip(
          client.reservations.commit({ params: { reservationId: released } })
        )
        assert.instanceOf(noCommit, InvalidReservationState)
        if (noCommit instanceof InvalidReservationState) assert.strictEqual(noCommit.state, "RELEASED")
      })
    )

    it.effect(
      "reservations: return restocks a committed one (repeat 200), 409 from RESERVED, 404 unknown",
      () =>
        Effect.gen(function* () {
          const client = yield* HttpApiClient.make(InventoryApi)
          const sku = yield* givenProduct(10)
          const id = newId()
          yield* client.reservations.create({ payload: { reservationId: id, items: [{ sku, quantity: 4 }] } })

          const early = yield* Effect.flip(client.reservations.return({ params: { reservationId: id } }))
          assert.instanceOf(early, InvalidReservationState)
          if (early instanceof InvalidReservationState) {
            assert.strictEqual(early.state, "RESERVED")
            assert.strictEqual(early.action, "return")
          }
          assert.strictEqual(yield* stockOf(sku), 6)

          yield* client.reservations.commit({ params: { reservationId: id } })
          const returned = yield* client.reservations.return({ params: { reservationId: id } })
          assert.strictEqual(returned.state, "RETURNED")
          assert.strictEqual(yield* stockOf(sku), 10)
          assert.deepStrictEqual(
            yield* client.reservations.return({ params: { reservationId: id } }),
            returned
          )
          assert.strictEqual(yield* stockOf(sku), 10)

          const unknown = yield* Effect.flip(
            client.reservations.return({ params: { reservationId: newId() } })
          )
          assert.instanceOf(unknown, ReservationNotFound)
        })
    )

    it.effect("50 concurrent reservations over HTTP for 10 units: 10 are 201, 40 are 409, stock 0", () =>
      Effect.gen(function* () {
        const client = yield* HttpApiClient.make(InventoryApi)
        const sku = yield* givenProduct(10)
        const results = yield* Effect.all(
          Array.from({ length: 50 }, () =>
            Effect.result(
              client.reservations.create({
                payload: { reservationId: newId(), items: [{ sku, quantity: 1 }] }
              })
            )
          ),
          { concurrency: "unbounded" }
        )
        const created = results.filter(Result.isSuccess)
        const rejected = results.filter(Result.isFailure)
        assert.strictEqual(created.length, 10)
        for (const r of created) assert.instanceOf(r.success, ReservationCreated)
        assert.strictEqual(rejected.length, 40)
        for (const r of rejected) assert.instanceOf(r.failure, OutOfStock)
        assert.strictEqual(yield* stockOf(sku), 0)
      })
    )
  })

  layer(ServerLive, { excludeTestServices: true })("bad input is a problem+json naming the field", (it) => {
    it.effect("a malformed SKU in the path", () =>
      Effect.gen(function* () {
        assertBadRequest(yield* send(HttpClientRequest.get("/products/not%20a%20sku")), "params.sku")
      })
    )

    it.effect("a negative quantity", () =>
      Effect.gen(function* () {
        const body = { reservationId: newId(), items: [{ sku: "BOLT-M8", quantity: -1 }] }
        assertBadRequest(yield* postJson("/reservations", JSON.stringify(body)), "payload.items.0.quantity")
      })
    )

    it.effect("malformed JSON", () =>
      Effect.gen(function* () {
        assertBadRequest(yield* postJson("/reservations", '{"reservationId": "x", "items": ['), "payload")
      })
    )

    it.effect("the same SKU twice in one reservation", () =>
      Effect.gen(function* () {
        const body = {
          reservationId: newId(),
          items: [
            { sku: "BOLT-M8", quantity: 1 },
            { sku: "NUT-M8", quantity: 1 },
            { sku: "BOLT-M8", quantity: 2 }
          ]
        }
        const answer = yield* postJson("/reservations", JSON.stringify(body))
        assertBadRequest(answer, "payload.items.2.sku")
        assert.include(answer.body.detail, "BOLT-M8")
      })
    )

    it.effect("no items, or more than 50", () =>
      Effect.gen(function* () {
        const none = { reservationId: newId(), items: [] }
        assertBadRequest(yield* postJson("/reservations", JSON.stringify(none)), "payload.items")
        const many = {
          reservationId: newId(),
          items: Array.from({ length: 51 }, (_, i) => ({ sku: `SKU-${i}`, quantity: 1 }))
        }
        assertBadRequest(yield* postJson("/reservations", JSON.stringify(many)), "payload.items")
      })
    )

    it.effect("a reservation id that is not a UUID", () =>
      Effect.gen(function* () {
        assertBadRequest(yield* send(HttpClientRequest.get("/reservations/42")), "params.reservationId")
      })
    )

    it.effect("a page size out of range", () =>
      Effect.gen(function* () {
        assertBadRequest(yield* send(HttpClientRequest.get("/products?limit=0")), "query.limit")
        assertBadRequest(yield* send(HttpClientRequest.get("/products?limit=101")), "query.limit")
        assertBadRequest(yield* send(HttpClientRequest.get("/products?limit=ten")), "query.limit")
      })
    )

    it.effect("stock out of range", () =>
      Effect.gen(function* () {
        const sku = uniqueSku()
        const put = (available: number) =>
          send(
            HttpClientRequest.put(`/products/${sku}/stock`).pipe(
              HttpClientRequest.bodyText(JSON.stringify({ available }), "application/json")
            )
          )
        assertBadRequest(yield* put(-1), "payload.available")
        assertBadRequest(yield* put(1_000_001), "payload.available")
        assertBadRequest(yield* put(1.5), "payload.available")
      })
    )

    it.effect("an unknown SKU in a reservation is a 422 problem naming it", () =>
      Effect.gen(function* () {
        const sku = uniqueSku("NOPE")
        const body = { reservationId: newId(), items: [{ sku, quantity: 1 }] }
        const answer = yield* postJson("/reservations", JSON.stringify(body))
        assert.strictEqual(answer.status, 422)
        assert.match(answer.contentType, /^application\/problem\+json/)
        assert.strictEqual(answer.body.type, "https://problems.acme.dev/unknown-products")
        assert.deepStrictEqual(answer.body["skus"], [sku])
        assert.include(answer.body.detail, sku)
      })
    )
  })
})
