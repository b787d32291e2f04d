export * from "./Boot.ts"
export * from "./Postgres.ts"
export * from "./ServiceProcess.ts"
export * as TestServer from "./TestServer.ts"
