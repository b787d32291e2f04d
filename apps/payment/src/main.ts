import { Service } from "@acme/server"
import { Layer } from "effect"
import { HttpLive } from "./Http.ts"
import { Payments } from "./Payments/Payments.ts"
import { PaymentsRepo } from "./Payments/PaymentsRepo.ts"
import { Sweeper } from "./Payments/Sweeper.ts"
import { ProcessorGateway } from "./Processor/ProcessorGateway.ts"
import * as ProcessorSimulated from "./Processor/ProcessorSimulated.ts"
import { ProcessorSimulation } from "./Processor/ProcessorSimulated.ts"
import { SqlLive } from "./Sql.ts"

Layer.mergeAll(HttpLive, Sweeper.layer).pipe(
  Layer.provide(Payments.layer),
  Layer.provide(Layer.mergeAll(PaymentsRepo.layer, ProcessorGateway.layer)),
  Layer.provide(ProcessorSimulated.layer),
  Layer.provide(ProcessorSimulation.layerConfig),
  Layer.provide(SqlLive),
  Layer.provide(Service.platform({ name: "payment", port: 8083 })),
  Service.run
)
