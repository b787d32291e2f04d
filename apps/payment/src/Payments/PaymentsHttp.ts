import { PaymentApi } from "@acme/contracts/payment"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Payments } from "./Payments.ts"

/** The `payments` group of the contract, served by {@link Payments}. */
export const PaymentsHttp = HttpApiBuilder.group(
  PaymentApi,
  "payments",
  Effect.fn(function* (handlers) {
    const payments = yield* Payments
    return handlers
      .handle("authorize", ({ payload }) => payments.authorize(payload))
      .handle("get", ({ params }) => payments.get(params.id))
      .handle("capture", ({ params }) => payments.capture(params.id))
      .handle("void", ({ params }) => payments.void(params.id))
  })
)
