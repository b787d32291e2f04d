import { OrderApi } from "@acme/contracts/order"
import { Service } from "@acme/server"
import { Layer } from "effect"

/** The order service's HTTP API, served by the service kit. */
export const HttpLive = Service.serve({ api: OrderApi, handlers: Layer.empty })
