import { Service } from "@acme/server"
import { Layer } from "effect"
import { AppLive } from "./App.ts"
import { HttpLive } from "./Http.ts"
import { SqlLive } from "./Sql.ts"

HttpLive.pipe(
  Layer.provide(AppLive),
  Layer.provide(SqlLive),
  Layer.provide(Service.platform({ name: "order", port: 8081 })),
  Service.run
)
