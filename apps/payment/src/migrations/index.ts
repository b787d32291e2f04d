import type { Migrations } from "@acme/pool"
import payments from "./0001_payments.ts"
import authorizedByAge from "./0002_authorized_by_age.ts"

/** The payment database's migrations, applied in id order at start. */
export const migrations: Migrations = {
  "0001_payments": payments,
  "0002_authorized_by_age": authorizedByAge
}
