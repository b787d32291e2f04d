export { GatewayApi } from "./Api.ts"
