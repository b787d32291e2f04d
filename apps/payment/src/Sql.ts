import { Database } from "@acme/pool"
import { migrations } from "./migrations/index.ts"

/** The payment database: pool from DATABASE_URL, migrated at start. */
export const SqlLive = Database.layer({ applicationName: "payment", migrations })
