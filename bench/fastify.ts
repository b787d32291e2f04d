/**
 * The reference for P1: what a well-written Fastify 5 + node-postgres service does for
 * `GET /products/{sku}`: the same SELECT as inventory, on a pool of the same size
 * (`DB_POOL_MAX`, default 10), validated path parameter, JSON through a response schema,
 * 404 for an unknown SKU. Fastify's own logger is off, as in its default configuration.
 *
 *   PORT=3000 DATABASE_URL=postgres://... node bench/fastify.ts
 */
import Fastify from "fastify"
import pg from "pg"

const pool = new pg.Pool({
  connectionString: process.env["DATABASE_URL"],
  max: Number(process.env["DB_POOL_MAX"] ?? 10)
})

const money = {
  type: "object",
  properties: { amount: { type: "integer" }, currency: { type: "string" } }
} as const

const app = Fastify()
app.get<{ Params: { sku: string } }>(
  "/products/:sku",
  {
    schema: {
      params: {
        type: "object",
        properties: { sku: { type: "string", pattern: "^[A-Z0-9][A-Z0-9-]{0,63}$" } },
        required: ["sku"]
      },
      response: {
        200: {
          type: "object",
          properties: {
            sku: { type: "string" },
            name: { type: "string" },
            price: money,
            available: { type: "integer" }
          }
        }
      }
    }
  },
  async (request, reply) => {
    const { rows } = await pool.query(
      "SELECT sku, name, price_amount, currency, available FROM products WHERE sku = $1",
      [request.params.sku]
    )
    const row = rows[0]
    if (row === undefined) return reply.code(404).send({ title: "Not Found", status: 404 })
    return {
      sku: row.sku,
      name: row.name,
      price: { amount: Number(row.price_amount), currency: row.currency },
      available: row.available
    }
  }
)
app.get("/health/live", async () => ({ status: "ok" }))

await app.listen({ port: Number(process.env["PORT"] ?? 3000), host: process.env["HOST"] ?? "127.0.0.1" })
const close = () => void app.close().then(() => pool.end())
process.once("SIGTERM", close)
process.once("SIGINT", close)
