export * from "./Boot.ts"
export * from "./Postgres.ts"
export * from "./ServiceProcess.ts"
