import { PaymentApi } from "@acme/contracts/payment"
import { Service } from "@acme/server"
import { PaymentsHttp } from "./Payments/PaymentsHttp.ts"

/** The payment service's HTTP API, served by the service kit. */
export const HttpLive = Service.serve({ api: PaymentApi, handlers: PaymentsHttp })
