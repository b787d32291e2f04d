/**
 * The Effect floor for P1: inventory's `GET /products/{sku}` with nothing of ours around it. The
 * same contract schemas (`Sku`, `Product`, `ProductNotFound`) and the same SELECT decoded by
 * inventory's own row schema (`ProductRow`, `toProduct`), served by `HttpApiBuilder` on
 * `NodeHttpServer` with `@effect/sql-pg`'s own pool of the same size (`DB_POOL_MAX`, default 10); no kit middleware (request id, time bound,
 * problem+json, metrics, request log), Effect's logger off, no tracer configured.
 *
 * What it is for: inventory / Fastify is the kit and Effect together; floor / Fastify is what
 * Effect's HTTP and SQL stack costs alone, and inventory / floor what the kit adds on top.
 *
 *   PORT=3000 DATABASE_URL=postgres://... node bench/effect-floor.ts
 */
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { Sku } from "@acme/contracts"
import { Product, ProductNotFound } from "@acme/contracts/inventory"
import { Config, Effect, Layer, Option, Schema } from "effect"
import { HttpRouter } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { SqlClient, SqlSchema } from "effect/sql"
import { createServer } from "node:http"
import { ProductRow, toProduct } from "../apps/inventory/src/Products/ProductsRepo.ts"

class Products extends HttpApiGroup.make("products")
  .add(
    HttpApiEndpoint.get("get", "/products/:sku", {
      params: { sku: Sku },
      success: Product,
      error: ProductNotFound
    })
  )
  .add(HttpApiEndpoint.get("live", "/health/live", { success: Schema.Struct({ status: Schema.String }) })) {}

class Api extends HttpApi.make("floor").add(Products) {}

const handlers = HttpApiBuilder.group(
  Api,
  "products",
  Effect.fn(function* (handlers) {
    const sql = yield* SqlClient.SqlClient
    const find = SqlSchema.findOneOption({
      Request: Sku,
      Result: ProductRow,
      execute: (sku) => sql`
        SELECT sku, name, price_amount, currency, available FROM products WHERE sku = ${sku}
      `
    })
    return handlers
      .handle("get", ({ params }) =>
        find(params.sku).pipe(
          Effect.orDie,
          Effect.flatMap(
            Option.match({
              onNone: () => Effect.fail(new ProductNotFound({ sku: params.sku, detail: "no such product" })),
              onSome: (row) => Effect.succeed(toProduct(row))
            })
          )
        )
      )
      .handle("live", () => Effect.succeed({ status: "ok" }))
  })
)

const database = PgClient.layerConfig({
  url: Config.Redacted("DATABASE_URL"),
  maxConnections: Config.Int("DB_POOL_MAX").pipe(Config.withDefault(10))
})

const server = Layer.unwrap(
  Effect.gen(function* () {
    const port = yield* Config.Int("PORT").pipe(Config.withDefault(3000))
    const host = yield* Config.String("HOST").pipe(Config.withDefault("127.0.0.1"))
    return NodeHttpServer.layer(createServer, { port, host })
  })
)

HttpRouter.serve(HttpApiBuilder.layer(Api), { disableLogger: true, disableListenLog: true }).pipe(
  Layer.provide(handlers),
  Layer.provide(database),
  Layer.provide(server),
  Layer.launch,
  NodeRuntime.runMain
)
