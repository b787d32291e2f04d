export { InventoryApi } from "./Api.ts"
