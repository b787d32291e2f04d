import { Service } from "@acme/server"
import { Layer } from "effect"
import { HttpLive } from "./Http.ts"
import { SqlLive } from "./Sql.ts"

HttpLive.pipe(
  Layer.provide(SqlLive),
  Layer.provide(Service.platform({ name: "payment", port: 8083 })),
  Service.run
)
