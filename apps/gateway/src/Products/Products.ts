/**
 * The catalog as the public API shows it, read from (and stock set at) the inventory service.
 * Calls go through the inventory downstream (see `Downstream/Downstreams.ts`), which retries
 * transient failures of the requests that are safe to repeat: the reads, and setting stock (a PUT
 * of an absolute value).
 */
import type { Sku } from "@acme/contracts"
import type { GatewayTimeout, Product, ProductPage, ServiceUnavailable } from "@acme/contracts/gateway"
import { InvalidCursor, ProductNotFound } from "@acme/contracts/gateway"
import type * as Internal from "@acme/contracts/inventory"
import { Context, Effect, Layer } from "effect"
import { publicFailures } from "../Downstream/Failures.ts"
import { InventoryDownstream } from "../Downstream/Downstreams.ts"

type Unavailable = ServiceUnavailable | GatewayTimeout

/** Only the public fields: an internal field added later does not leak. */
const toPublic = (product: Internal.Product): Product => ({
  sku: product.sku,
  name: product.name,
  price: product.price,
  available: product.available
})

export class Products extends Context.Service<
  Products,
  {
    readonly list: (query: {
      readonly limit?: number
      readonly cursor?: string
    }) => Effect.Effect<ProductPage, InvalidCursor | Unavailable>
    readonly get: (sku: Sku) => Effect.Effect<Product, ProductNotFound | Unavailable>
    readonly setStock: (sku: Sku, available: number) => Effect.Effect<Product, ProductNotFound | Unavailable>
  }
>()("gateway/Products") {
  static readonly layer = Layer.effect(
    Products,
    Effect.gen(function* () {
      const downstream = yield* InventoryDownstream

      const notFound = (error: Internal.ProductNotFound) =>
        Effect.fail(new ProductNotFound({ sku: error.sku, detail: `No product with SKU ${error.sku}` }))

      const list = Effect.fn("Products.list")(function* (query: {
        readonly limit?: number
        readonly cursor?: string
      }) {
        const page = yield* downstream
          .call((client) => client.products.list({ query }))
          .pipe(
            publicFailures,
            Effect.catchTag("InvalidCursor", () =>
              Effect.fail(new InvalidCursor({ field: "cursor", detail: "The cursor is not valid" }))
            )
          )
        return { items: page.items.map(toPublic), nextCursor: page.nextCursor }
      })

      const get = Effect.fn("Products.get")(function* (sku: Sku) {
        const product = yield* downstream
          .call((client) => client.products.get({ params: { sku } }))
          .pipe(publicFailures, Effect.catchTag("ProductNotFound", notFound))
        return toPublic(product)
      })

      const setStock = Effect.fn("Products.setStock")(function* (sku: Sku, available: number) {
        const product = yield* downstream
          .call((client) => client.products.setStock({ params: { sku }, payload: { available } }))
          .pipe(publicFailures, Effect.catchTag("ProductNotFound", notFound))
        return toPublic(product)
      })

      return Products.of({ list, get, setStock })
    })
  )
}
