/** The `/v1/products` endpoints: the middleware has authenticated and admitted the caller. */
import { GatewayApi } from "@acme/contracts/gateway"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { requireScope } from "../Auth/Scopes.ts"
import { Products } from "./Products.ts"

export const ProductsHttp = HttpApiBuilder.group(
  GatewayApi,
  "products",
  Effect.fn(function* (handlers) {
    const products = yield* Products
    return handlers
      .handle("list", ({ query }) => products.list(query))
      .handle("get", ({ params }) => products.get(params.sku))
      .handle("setStock", ({ params, payload }) =>
        Effect.andThen(requireScope("admin"), products.setStock(params.sku, payload.available))
      )
  })
)
