import type { Migrations } from "@acme/pool"

/** The payment database's migrations, applied in id order at start. */
export const migrations: Migrations = {}
