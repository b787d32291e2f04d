/**
 * The catalog as the public API shows it, read from (and stock set at) the inventory service.
 * Reads are retried on transient failures; setting stock is not (the brief keeps retries to
 * requests that are safe to repeat by construction: GETs, and POSTs with an idempotency key).
 */
import type { Sku } from "@acme/contracts"
import type { GatewayTimeout, Product, ProductPage, ServiceUnavailable } from "@acme/contracts/gateway"
import { InvalidCursor, ProductNotFound } from "@acme/contracts/gateway"
import type * as Internal from "@acme/contracts/inventory"
import { resilient, RetryPolicy } from "@acme/resilience"
import { Context, Effect, Layer } from "effect"
import { publicFailures } from "../Downstream/Failures.ts"
import { InventoryClient } from "../Downstream/InventoryClient.ts"

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
      const { client, downstream } = yield* InventoryClient

      const notFound = (error: Internal.ProductNotFound) =>
        Effect.fail(new ProductNotFound({ sku: error.sku, detail: `No product with SKU ${error.sku}` }))

      const list = Effect.fn("Products.list")(function* (query: {
        readonly limit?: number
        readonly cursor?: string
      }) {
        const page = yield* client.products.list({ query }).pipe(
          resilient(downstream, RetryPolicy.transient),
          publicFailures,
          Effect.catchTag("InvalidCursor", () =>
            Effect.fail(new InvalidCursor({ field: "cursor", detail: "The cursor is not valid" }))
          )
        )
        return { items: page.items.map(toPublic), nextCursor: page.nextCursor }
      })

      const get = Effect.fn("Products.get")(function* (sku: Sku) {
        const product = yield* client.products
          .get({ params: { sku } })
          .pipe(
            resilient(downstream, RetryPolicy.transient),
            publicFailures,
            Effect.catchTag("ProductNotFound", notFound)
          )
        return toPublic(product)
      })

      const setStock = Effect.fn("Products.setStock")(function* (sku: Sku, available: number) {
        const product = yield* client.products
          .setStock({ params: { sku }, payload: { available } })
          .pipe(
            resilient(downstream, RetryPolicy.none),
            publicFailures,
            Effect.catchTag("ProductNotFound", notFound)
          )
        return toPublic(product)
      })

      return Products.of({ list, get, setStock })
    })
  )
}
