export * as Database from "./Database.ts"
export type { Migrations } from "./Database.ts"
