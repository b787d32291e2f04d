import { NumberFromInt8 } from "@acme/pool"
/**
 * SQL for the catalog: products and their stock levels. Rows are decoded into the domain's
 * `Product`; database and decode failures are defects here, so callers see only `Product`s.
 */
import type { Product } from "@acme/contracts/inventory"
import { Sku } from "@acme/contracts"
import { Array as Arr, Context, Effect, Layer, Option, Schema } from "effect"
import { SqlClient, SqlSchema } from "effect/sql"

/** A `products` row as the queries below select it. */
export const ProductRow = Schema.Struct({
  sku: Sku,
  name: Schema.String,
  price_amount: NumberFromInt8,
  currency: Schema.String,
  available: Schema.Int
})
type ProductRow = typeof ProductRow.Type

export const toProduct = (row: ProductRow): Product => ({
  sku: row.sku,
  name: row.name,
  price: { amount: row.price_amount, currency: row.currency },
  available: row.available
})

const UpsertedRow = Schema.Struct({ ...ProductRow.fields, created: Schema.Boolean })

export class ProductsRepo extends Context.Service<
  ProductsRepo,
  {
    /** Up to `limit` products with a SKU after `after` (all when undefined), in SKU order. */
    readonly page: (after: Sku | undefined, limit: number) => Effect.Effect<ReadonlyArray<Product>>
    readonly find: (sku: Sku) => Effect.Effect<Option.Option<Product>>
    /** Creates the product or replaces all of it; `created` tells which. */
    readonly upsert: (
      product: Product
    ) => Effect.Effect<{ readonly product: Product; readonly created: boolean }>
    readonly setStock: (sku: Sku, available: number) => Effect.Effect<Option.Option<Product>>
    /** Inserts the products whose SKU does not exist yet; returns how many it inserted. */
    readonly insertMissing: (products: ReadonlyArray<Product>) => Effect.Effect<number>
  }
>()("inventory/ProductsRepo") {
  static readonly layer = Layer.effect(
    ProductsRepo,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient

      const page = SqlSchema.findAll({
        Request: Schema.Struct({ after: Schema.String, limit: Schema.Int }),
        Result: ProductRow,
        execute: ({ after, limit }) => sql`
          SELECT sku, name, price_amount, currency, available FROM products
          WHERE sku > ${after} ORDER BY sku LIMIT ${limit}
        `
      })

      const find = SqlSchema.findOneOption({
        Request: Sku,
        Result: ProductRow,
        execute: (sku) => sql`
          SELECT sku, name, price_amount, currency, available FROM products WHERE sku = ${sku}
        `
      })

      // `xmax = 0` holds for a row this statement inserted, not for one it updated.
      const upsert = SqlSchema.findOne({
        Request: Schema.Struct({
          sku: Schema.String,
          name: Schema.String,
          amount: Schema.Number,
          currency: Schema.String,
          available: Schema.Int
        }),
        Result: UpsertedRow,
        execute: (p) => sql`
          INSERT INTO products (sku, name, price_amount, currency, available)
          VALUES (${p.sku}, ${p.name}, ${p.amount}, ${p.currency}, ${p.available})
          ON CONFLICT (sku) DO UPDATE SET
            name = excluded.name,
            price_amount = excluded.price_amount,
            currency = excluded.currency,
            available = excluded.available,
            updated_at = now()
          RETURNING sku, name, price_amount, currency, available, (xmax = 0) AS created
        `
      })

      const setStock = SqlSchema.findOneOption({
        Request: Schema.Struct({ sku: Schema.String, available: Schema.Int }),
        Result: ProductRow,
        execute: ({ sku, available }) => sql`
          UPDATE products SET available = ${available}, updated_at = now() WHERE sku = ${sku}
          RETURNING sku, name, price_amount, currency, available
        `
      })

      return ProductsRepo.of({
        page: (after, limit) =>
          page({ after: after ?? "", limit }).pipe(
            Effect.map((rows) => rows.map(toProduct)),
            Effect.orDie
          ),
        find: (sku) => find(sku).pipe(Effect.map(Option.map(toProduct)), Effect.orDie),
        upsert: (product) =>
          upsert({
            sku: product.sku,
            name: product.name,
            amount: product.price.amount,
            currency: product.price.currency,
            available: product.available
          }).pipe(
            Effect.map((row) => ({ product: toProduct(row), created: row.created })),
            Effect.orDie
          ),
        setStock: (sku, available) =>
          setStock({ sku, available }).pipe(Effect.map(Option.map(toProduct)), Effect.orDie),
        insertMissing: (products) =>
          Arr.isReadonlyArrayNonEmpty(products)
            ? sql`
                INSERT INTO products ${sql.insert(
                  Arr.map(products, (p) => ({
                    sku: p.sku,
                    name: p.name,
                    price_amount: p.price.amount,
                    currency: p.price.currency,
                    available: p.available
                  }))
                )}
                ON CONFLICT (sku) DO NOTHING
                RETURNING sku
              `.pipe(
                Effect.map((inserted) => inserted.length),
                Effect.orDie
              )
            : Effect.succeed(0)
      })
    })
  )
}
