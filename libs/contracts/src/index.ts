export { Checks, CheckStatus, HealthApi, NotReady } from "./Health.ts"
export { problemBase, problemFields, problemType } from "./Problem.ts"
export {
  Currency,
  defaultPageSize,
  maxPageSize,
  MinorUnits,
  Money,
  OrderId,
  Page,
  PageQuery,
  Sku
} from "./Common.ts"
