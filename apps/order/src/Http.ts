import { OrderApi } from "@acme/contracts/order"
import { Service } from "@acme/server"
import { Layer } from "effect"
import { EventsHttp } from "./Events/EventsHttp.ts"
import { OrdersHttp } from "./Orders/OrdersHttp.ts"

/** The handlers of the order contract's groups (health is the kit's). */
export const HandlersLive = Layer.mergeAll(OrdersHttp, EventsHttp)

/** The order service's HTTP API, served by the service kit. */
export const HttpLive = Service.serve({ api: OrderApi, handlers: HandlersLive })
