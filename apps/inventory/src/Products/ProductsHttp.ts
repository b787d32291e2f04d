import { InventoryApi, ProductCreated } from "@acme/contracts/inventory"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Products } from "./Products.ts"

/** The products endpoints: decoding and problems are the contract's; the work is `Products`. */
export const ProductsHttp = HttpApiBuilder.group(
  InventoryApi,
  "products",
  Effect.fn(function* (handlers) {
    const products = yield* Products
    return handlers
      .handle("list", ({ query }) => products.list(query))
      .handle("get", ({ params }) => products.get(params.sku))
      .handle("upsert", ({ params, payload }) =>
        products
          .upsert(params.sku, payload)
          .pipe(Effect.map(({ created, product }) => (created ? new ProductCreated(product) : product)))
      )
      .handle("setStock", ({ params, payload }) => products.setStock(params.sku, payload.available))
  })
)
