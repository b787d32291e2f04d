export * as HttpMetrics from "./HttpMetrics.ts"
export { batchedStdout, jsonLogger, layerJsonLogger, LogFields } from "./Logging.ts"
export { layerTracing, withSampling } from "./Tracing.ts"
export { prometheusName, RuntimeMetrics } from "./RuntimeMetrics.ts"
