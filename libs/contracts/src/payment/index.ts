export { PaymentApi } from "./Api.ts"
