/**
 * The two services the saga calls, as typed clients derived from their contracts
 * (`ServiceClient` of `@acme/pool`: keep-alive pool, per-call timeout, client metrics), each
 * with its own `Downstream` (`@acme/resilience`): a circuit breaker and a per-attempt timeout
 * shared by every call to it. Calls go through `resilient(downstream, RetryPolicy.none)`: the
 * outbox is the retry loop (with its backoff and attempt count in the database), so a call here
 * is one attempt. An open breaker fails a call at once, without touching the downstream.
 */
import { InventoryApi } from "@acme/contracts/inventory"
import { PaymentApi } from "@acme/contracts/payment"
import { ServiceClient } from "@acme/pool"
import { Downstream, resilient, RetryPolicy } from "@acme/resilience"
import type { BulkheadFull, CircuitOpen, TimeoutError } from "@acme/resilience"
import { Config, Context, Duration, Effect, Layer } from "effect"
import type { HttpApiClient } from "effect/http-api"
import { boundedInt, positiveDuration } from "../Settings.ts"

export const downstreamConfig = Config.all({
  inventoryUrl: Config.URL("INVENTORY_URL").pipe(Config.withDefault(new URL("http://127.0.0.1:8082"))),
  paymentUrl: Config.URL("PAYMENT_URL").pipe(Config.withDefault(new URL("http://127.0.0.1:8083"))),
  /** Per attempt; keep it at or below `HTTP_CLIENT_TIMEOUT`, the transport's backstop. */
  timeout: positiveDuration("DOWNSTREAM_TIMEOUT", Duration.seconds(4)),
  breakerFailures: boundedInt("DOWNSTREAM_BREAKER_FAILURES", 1, 1000, 5),
  breakerOpen: positiveDuration("DOWNSTREAM_BREAKER_OPEN", Duration.seconds(10))
})

/** A downstream's client and the resilience every call to it shares. */
export interface Caller<Client> {
  readonly call: <A, E>(
    f: (client: Client) => Effect.Effect<A, E>
  ) => Effect.Effect<A, E | CircuitOpen | BulkheadFull | TimeoutError>
}

const caller = Effect.fnUntraced(function* <Client>(name: string, client: Client) {
  const config = yield* downstreamConfig
  const downstream = yield* Downstream.make({
    name,
    timeout: config.timeout,
    circuitBreaker: { consecutiveFailures: config.breakerFailures, openDuration: config.breakerOpen }
  })
  return {
    call: (f) => f(client).pipe(resilient(downstream, RetryPolicy.none))
  } satisfies Caller<Client>
})

export class Inventory extends Context.Service<
  Inventory,
  Caller<HttpApiClient.ForApi<typeof InventoryApi>>
>()("order/Inventory") {
  static readonly layer = Layer.effect(
    Inventory,
    Effect.gen(function* () {
      const { inventoryUrl } = yield* downstreamConfig
      return yield* caller("inventory", yield* ServiceClient.make(InventoryApi, { baseUrl: inventoryUrl }))
    })
  ).pipe(Layer.provide(ServiceClient.layer))
}

export class Payment extends Context.Service<Payment, Caller<HttpApiClient.ForApi<typeof PaymentApi>>>()(
  "order/Payment"
) {
  static readonly layer = Layer.effect(
    Payment,
    Effect.gen(function* () {
      const { paymentUrl } = yield* downstreamConfig
      return yield* caller("payment", yield* ServiceClient.make(PaymentApi, { baseUrl: paymentUrl }))
    })
  ).pipe(Layer.provide(ServiceClient.layer))
}
