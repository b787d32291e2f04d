/**
 * The two services the saga calls, each built once from its contract and its policy
 * (`@acme/resilience` `Downstream.client` over the pooled transport of `@acme/pool`): a circuit
 * breaker and a per-call timeout shared by every call to it, and no retry (`RetryPolicy.none`):
 * the outbox is the retry loop, with its backoff and attempt count in the database, so a call
 * here is one attempt. An open circuit fails a call at once, without touching the downstream.
 */
import { InventoryApi } from "@acme/contracts/inventory"
import { PaymentApi } from "@acme/contracts/payment"
import { ServiceClient } from "@acme/pool"
import { Downstream, RetryPolicy } from "@acme/resilience"
import { Context, Effect, Layer } from "effect"
import * as Settings from "../Settings.ts"

export class Inventory extends Context.Service<Inventory, Downstream.ForApi<typeof InventoryApi>>()(
  "order/Inventory"
) {
  static readonly layer = Layer.effect(
    Inventory,
    Effect.flatMap(Settings.inventory, ({ policy, url }) =>
      Downstream.client(InventoryApi, { name: "inventory", baseUrl: url, ...policy, retry: RetryPolicy.none })
    )
  ).pipe(Layer.provide(ServiceClient.layer))
}

export class Payment extends Context.Service<Payment, Downstream.ForApi<typeof PaymentApi>>()(
  "order/Payment"
) {
  static readonly layer = Layer.effect(
    Payment,
    Effect.flatMap(Settings.payment, ({ policy, url }) =>
      Downstream.client(PaymentApi, { name: "payment", baseUrl: url, ...policy, retry: RetryPolicy.none })
    )
  ).pipe(Layer.provide(ServiceClient.layer))
}
