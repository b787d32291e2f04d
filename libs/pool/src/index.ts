export * as Database from "./Database.ts"
export type { Migrations } from "./Database.ts"
export * as PoolMetrics from "./PoolMetrics.ts"
export * as ServiceClient from "./ServiceClient.ts"
