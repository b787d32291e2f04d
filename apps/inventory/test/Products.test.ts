import { InvalidCursor, ProductNotFound } from "@acme/contracts/inventory"
import type { Product } from "@acme/contracts/inventory"
import { Sku } from "@acme/contracts"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import { SqlClient } from "effect/sql"
import { decodeCursor, encodeCursor, Products } from "../src/Products/Products.ts"
import { eur, layerApp, stockOf, uniqueSku } from "./support.ts"

/** Every page of the catalog, following `nextCursor` until it is null. */
const allPages = (limit: number) =>
  Effect.gen(function* () {
    const products = yield* Products
    const pages: Array<ReadonlyArray<Product>> = []
    let cursor: string | undefined
    do {
      const page = yield* products.list(cursor === undefined ? { limit } : { limit, cursor })
      pages.push(page.items)
      cursor = page.nextCursor ?? undefined
    } while (cursor !== undefined)
    return pages
  })

describe("Products", () => {
  layer(layerApp(), { excludeTestServices: true })("catalog", (it) => {
    it.effect("upsert creates a product, then replaces all of it", () =>
      Effect.gen(function* () {
        const products = yield* Products
        const sku = uniqueSku()
        const first = yield* products.upsert(sku, { name: "Bolt", price: eur(120), available: 7 })
        assert.isTrue(first.created)
        assert.deepStrictEqual(first.product, { sku, name: "Bolt", price: eur(120), available: 7 })
        const second = yield* products.upsert(sku, {
          name: "Bolt, long",
          price: { amount: 150, currency: "USD" },
          available: 3
        })
        assert.isFalse(second.created)
        assert.deepStrictEqual(yield* products.get(sku), {
          sku,
          name: "Bolt, long",
          price: { amount: 150, currency: "USD" },
          available: 3
        })
      })
    )

    it.effect("get of an unknown SKU is a 404 naming it", () =>
      Effect.gen(function* () {
        const products = yield* Products
        const sku = uniqueSku("NOPE")
        const error = yield* Effect.flip(products.get(sku))
        assert.instanceOf(error, ProductNotFound)
        assert.strictEqual(error.sku, sku)
        assert.strictEqual(error.status, 404)
      })
    )

    it.effect("setStock sets the available stock; an unknown SKU is a 404", () =>
      Effect.gen(function* () {
        const products = yield* Products
        const sku = uniqueSku()
        yield* products.upsert(sku, { name: "Nut", price: eur(10), available: 1 })
        assert.strictEqual((yield* products.setStock(sku, 42)).available, 42)
        assert.strictEqual(yield* stockOf(sku), 42)
        const error = yield* Effect.flip(products.setStock(uniqueSku("NOPE"), 1))
        assert.instanceOf(error, ProductNotFound)
      })
    )

    it.effect("the database refuses negative stock, whatever the code does (CHECK backstop)", () =>
      Effect.gen(function* () {
        const products = yield* Products
        const sql = yield* SqlClient.SqlClient
        const sku = uniqueSku()
        yield* products.upsert(sku, { name: "Washer", price: eur(5), available: 1 })
        const error = yield* Effect.flip(
          sql`UPDATE products SET available = available - 2 WHERE sku = ${sku}`
        )
        assert.strictEqual(error.reason._tag, "ConstraintError")
        const cause = error.reason.cause as { readonly constraint?: string }
        assert.strictEqual(cause.constraint, "products_available_non_negative")
        assert.strictEqual(yield* stockOf(sku), 1)
      })
    )
  })

  // A database of its own, so the whole catalog is known.
  layer(layerApp(), { excludeTestServices: true })("list", (it) => {
    const skus = ["A-1", "A-10", "A-2", "B", "B-1", "C", "Z-9"].map((s) => Sku.make(s))

    it.effect("pages through every product once, in SKU order, whatever the page size", () =>
      Effect.gen(function* () {
        const products = yield* Products
        for (const sku of [...skus].reverse()) {
          yield* products.upsert(sku, { name: `Product ${sku}`, price: eur(100), available: 1 })
        }
        for (const limit of [1, 2, 3, 7, 100]) {
          const pages = yield* allPages(limit)
          assert.deepStrictEqual(
            pages.flat().map((p) => p.sku),
            [...skus].sort()
          )
          for (const page of pages) assert.isAtMost(page.length, limit)
          // No empty trailing page when the last page is full.
          assert.isAbove(pages.at(-1)!.length, 0)
        }
        const page = yield* products.list({})
        assert.strictEqual(page.items.length, skus.length)
        assert.isNull(page.nextCursor)
      })
    )

    it.effect("a cursor this service did not hand out is a 400", () =>
      Effect.gen(function* () {
        const products = yield* Products
        for (const cursor of ["nope", encodeCursor(Sku.make("B")).slice(2), btoa('{"after":"lower case"}')]) {
          const error = yield* Effect.flip(products.list({ cursor }))
          assert.instanceOf(error, InvalidCursor)
          assert.strictEqual(error.status, 400)
        }
      })
    )

    it.effect("a cursor decodes to the SKU it was made from", () =>
      Effect.sync(() => {
        const sku = Sku.make("BOLT-M8")
        assert.strictEqual(Option.getOrUndefined(decodeCursor(encodeCursor(sku))), sku)
      })
    )
  })
})
