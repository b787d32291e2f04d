export { OrderApi } from "./Api.ts"
