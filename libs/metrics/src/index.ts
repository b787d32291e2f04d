export { jsonLogger, layerJsonLogger } from "./Logging.ts"
