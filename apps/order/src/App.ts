import { Layer } from "effect"
import { Inventory, Payment } from "./Downstream/Downstreams.ts"
import { EventsRepo } from "./Events/EventsRepo.ts"
import { Idempotency } from "./Idempotency/Idempotency.ts"
import { Notifications } from "./Notifications/Notifications.ts"
import { Orders } from "./Orders/Orders.ts"
import { OrdersRepo } from "./Orders/OrdersRepo.ts"
import { ResultChannel } from "./Orders/ResultChannel.ts"
import { OutboxRepo } from "./Outbox/OutboxRepo.ts"
import { Relay } from "./Outbox/Relay.ts"
import { SagaRunner } from "./Saga/SagaRunner.ts"
import { SagaSteps } from "./Saga/SagaSteps.ts"

/** Repositories and the LISTEN connection: what everything else is built on. */
const Foundation = Layer.mergeAll(
  OrdersRepo.layer.pipe(Layer.provideMerge(OutboxRepo.layer)),
  EventsRepo.layer,
  Notifications.layer
)

/** The saga: its runner, and its steps against inventory and payment. */
const SagaLive = Layer.mergeAll(
  SagaRunner.layer,
  SagaSteps.layer.pipe(Layer.provide(Layer.mergeAll(Inventory.layer, Payment.layer)))
)

/**
 * The order service's business layers on a migrated database: the services the handlers use,
 * and the background work (relay workers, idempotency sweeper, LISTEN). Built before the HTTP
 * server, so they stop after it when the service shuts down. `relay` selects the relay (the
 * manual one in tests that drive it step by step).
 */
export const makeApp = (relay: typeof Relay.layer = Relay.layer) =>
  Layer.mergeAll(Orders.layer, EventsRepo.layer, relay.pipe(Layer.provide(SagaRunner.handler))).pipe(
    Layer.provideMerge(Layer.mergeAll(Idempotency.layer, ResultChannel.layer)),
    Layer.provideMerge(SagaLive),
    Layer.provideMerge(Foundation)
  )

export const AppLive = makeApp()
