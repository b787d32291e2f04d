import { Service } from "@acme/server"
import { Layer } from "effect"
import { HttpLive } from "./Http.ts"

HttpLive.pipe(Layer.provide(Service.platform({ name: "gateway", port: 8080 })), Service.run)
