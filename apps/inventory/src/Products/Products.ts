/**
 * The catalog: list (cursor pages in SKU order), get, and the admin operations that create or
 * replace a product and set its stock. Stock taken by reservations is in `Reservations`.
 */
import type { Product, ProductPage, UpsertProduct } from "@acme/contracts/inventory"
import { InvalidCursor, ProductNotFound } from "@acme/contracts/inventory"
import { defaultPageSize, Sku } from "@acme/contracts"
import { Context, Effect, Layer, Option, Result, Schema } from "effect"
import { Base64Url } from "effect/encoding"
import { ProductsRepo } from "./ProductsRepo.ts"

/**
 * The cursor of the next page: the last SKU of this one, as base64url JSON. Clients must treat
 * it as opaque, so its content can change (a version field, another sort key) without notice.
 */
const CursorJson = Schema.fromJsonString(Schema.Struct({ after: Sku }))
const decodeCursorJson = Schema.decodeUnknownOption(CursorJson)

export const encodeCursor = (after: Sku): string => Base64Url.encode(JSON.stringify({ after }))

export const decodeCursor = (cursor: string): Option.Option<Sku> =>
  Result.match(Base64Url.decodeString(cursor), {
    onFailure: () => Option.none(),
    onSuccess: (json) => Option.map(decodeCursorJson(json), ({ after }) => after)
  })

export class Products extends Context.Service<
  Products,
  {
    readonly list: (query: {
      readonly limit?: number
      readonly cursor?: string
    }) => Effect.Effect<ProductPage, InvalidCursor>
    readonly get: (sku: Sku) => Effect.Effect<Product, ProductNotFound>
    /** Creates the product or replaces it entirely; `created` tells which. */
    readonly upsert: (
      sku: Sku,
      input: UpsertProduct
    ) => Effect.Effect<{ readonly product: Product; readonly created: boolean }>
    readonly setStock: (sku: Sku, available: number) => Effect.Effect<Product, ProductNotFound>
  }
>()("inventory/Products") {
  static readonly layer = Layer.effect(
    Products,
    Effect.gen(function* () {
      const repo = yield* ProductsRepo

      const notFound = (sku: Sku) => new ProductNotFound({ sku, detail: `No product with SKU ${sku}` })

      const list = Effect.fn("Products.list")(function* (query: {
        readonly limit?: number
        readonly cursor?: string
      }) {
        const limit = query.limit ?? defaultPageSize
        let after: Sku | undefined
        if (query.cursor !== undefined) {
          const decoded = decodeCursor(query.cursor)
          if (Option.isNone(decoded)) {
            return yield* new InvalidCursor({
              field: "cursor",
              detail: "query.cursor: not a cursor this service returned; start again without it"
            })
          }
          after = decoded.value
        }
        // One row more than the page tells whether there is a next page.
        const rows = yield* repo.page(after, limit + 1)
        const items = rows.slice(0, limit)
        const last = items.at(-1)
        return {
          items,
          nextCursor: rows.length > limit && last !== undefined ? encodeCursor(last.sku) : null
        }
      })

      const get = Effect.fn("Products.get")(function* (sku: Sku) {
        const found = yield* repo.find(sku)
        if (Option.isNone(found)) return yield* notFound(sku)
        return found.value
      })

      const upsert = Effect.fn("Products.upsert")(function* (sku: Sku, input: UpsertProduct) {
        return yield* repo.upsert({ sku, ...input })
      })

      const setStock = Effect.fn("Products.setStock")(function* (sku: Sku, available: number) {
        const updated = yield* repo.setStock(sku, available)
        if (Option.isNone(updated)) return yield* notFound(sku)
        return updated.value
      })

      return Products.of({ list, get, upsert, setStock })
    })
  ).pipe(Layer.provide(ProductsRepo.layer))
}
