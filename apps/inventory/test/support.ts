/**
 * What the inventory tests share: the service's layers on a fresh, migrated database (one per
 * `layer(...)` block), and small helpers for unique test data, so tests in one block do not see
 * each other's products.
 */
import type { Product } from "@acme/contracts/inventory"
import { Readiness } from "@acme/server"
import { TestDatabase } from "@acme/testing"
import { OrderId, Sku } from "@acme/contracts"
import { ConfigProvider, Effect, Layer, Logger, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { AppLive } from "../src/App.ts"
import { SqlLive } from "../src/Sql.ts"

/**
 * The business layers (Products, Reservations, Sweeper) and the SQL client, on a fresh database
 * migrated the way the service does at start; `env` is the service's environment. Logs are
 * dropped.
 */
export const layerApp = (env: Record<string, string> = {}) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const db = yield* TestDatabase.make
      return AppLive.pipe(
        Layer.provideMerge(SqlLive),
        Layer.provide(Readiness.layer),
        Layer.provide(
          ConfigProvider.layer(ConfigProvider.fromUnknown({ DATABASE_URL: Redacted.value(db.url), ...env }))
        )
      )
    })
  ).pipe(Layer.orDie, Layer.provideMerge(Logger.layer([])))

let counter = 0

/** A SKU no other test uses. */
export const uniqueSku = (prefix = "T"): Sku =>
  Sku.make(`${prefix}-${Date.now().toString(36).toUpperCase()}-${(counter++).toString(36).toUpperCase()}`)

export const newId = (): OrderId => OrderId.make(crypto.randomUUID())

export const eur = (amount: number) => ({ amount, currency: "EUR" })

/** Inserts products straight into the table (the tests of Products use the service). */
export const insertProducts = (products: ReadonlyArray<Product>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    for (const p of products) {
      yield* sql`
        INSERT INTO products (sku, name, price_amount, currency, available)
        VALUES (${p.sku}, ${p.name}, ${p.price.amount}, ${p.price.currency}, ${p.available})
      `
    }
  }).pipe(Effect.orDie)

/** A product with a unique SKU, inserted with the given stock and price. */
export const givenProduct = (available: number, price = eur(1000)) =>
  Effect.gen(function* () {
    const product: Product = { sku: uniqueSku(), name: "Test product", price, available }
    yield* insertProducts([product])
    return product.sku
  })

/** The stock of a product, read straight from the table. */
export const stockOf = (sku: Sku) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ available: number }>`SELECT available FROM products WHERE sku = ${sku}`
    return rows[0]?.available
  }).pipe(Effect.orDie)
