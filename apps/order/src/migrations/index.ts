import type { Migrations } from "@acme/pool"

/** The order database's migrations, applied in id order at start. */
export const migrations: Migrations = {}
