import { describeBoot } from "@acme/testing"
import { afterAll, beforeAll } from "vitest"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"

/**
 * The gateway is ready only when its downstreams are: a stub that answers their readiness
 * stands in for inventory and order, handed to the gateway process through its environment.
 */
const downstream = createServer((request, response) => {
  const ready = request.url === "/health/ready"
  response.writeHead(ready ? 200 : 404, { "content-type": "application/json" })
  response.end(ready ? JSON.stringify({ status: "ready", checks: {} }) : "{}")
})

beforeAll(async () => {
  await new Promise<void>((resolve) => downstream.listen(0, "127.0.0.1", resolve))
  const url = `http://127.0.0.1:${(downstream.address() as AddressInfo).port}`
  process.env["INVENTORY_URL"] = url
  process.env["ORDER_URL"] = url
})

afterAll(async () => {
  delete process.env["INVENTORY_URL"]
  delete process.env["ORDER_URL"]
  await new Promise<void>((resolve) => downstream.close(() => resolve()))
})

describeBoot(fileURLToPath(new URL("../src/main.ts", import.meta.url)), { database: false })
