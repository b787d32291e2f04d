export { Readiness, type ReadinessReport } from "./Readiness.ts"
export { ServerConfig } from "./ServerConfig.ts"
export * as Service from "./Service.ts"
export { AdminServer } from "./Admin.ts"
