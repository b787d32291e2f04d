import { GatewayApi } from "@acme/contracts/gateway"
import { Service } from "@acme/server"
import { Layer } from "effect"

/** The gateway service's HTTP API, served by the service kit. */
export const HttpLive = Service.serve({ api: GatewayApi, handlers: Layer.empty })
