import type { Migrations } from "@acme/pool"
import payments from "./0001_payments.ts"

/** The payment database's migrations, applied in id order at start. */
export const migrations: Migrations = {
  "0001_payments": payments
}
