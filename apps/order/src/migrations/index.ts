import type { Migrations } from "@acme/pool"
import orders from "./0001_orders.ts"
import outbox from "./0002_outbox.ts"
import idempotencyKeys from "./0003_idempotency_keys.ts"
import orderEvents from "./0004_order_events.ts"
import outboxLease from "./0005_outbox_lease.ts"

/** The order database's migrations, applied in id order at start. */
export const migrations: Migrations = {
  "0001_orders": orders,
  "0002_outbox": outbox,
  "0003_idempotency_keys": idempotencyKeys,
  "0004_order_events": orderEvents,
  "0005_outbox_lease": outboxLease
}
