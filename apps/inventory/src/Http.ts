import { InventoryApi } from "@acme/contracts/inventory"
import { Service } from "@acme/server"
import { Layer } from "effect"
import { ProductsHttp } from "./Products/ProductsHttp.ts"
import { ReservationsHttp } from "./Reservations/ReservationsHttp.ts"

/** The handlers of the inventory contract's groups (health is the kit's). */
export const HandlersLive = Layer.mergeAll(ProductsHttp, ReservationsHttp)

/** The inventory service's HTTP API, served by the service kit. */
export const HttpLive = Service.serve({ api: InventoryApi, handlers: HandlersLive })
