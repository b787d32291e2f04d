import { InventoryApi } from "@acme/contracts/inventory"
import { Service } from "@acme/server"
import { Layer } from "effect"

/** The inventory service's HTTP API, served by the service kit. */
export const HttpLive = Service.serve({ api: InventoryApi, handlers: Layer.empty })
