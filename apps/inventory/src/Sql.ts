import { Database } from "@acme/pool"
import { migrations } from "./migrations/index.ts"

/** The inventory database: pool from DATABASE_URL, migrated at start. */
export const SqlLive = Database.layer({ applicationName: "inventory", migrations })
