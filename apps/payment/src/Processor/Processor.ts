/**
 * The card processor (PSP) as this service sees it: authorize an amount on a card token, then
 * capture, void or refund that authorization. A decline is an answer, not a failure; a failure
 * (`ProcessorError`) means the processor could not answer and is transient, so it is retried
 * and counted by the circuit breaker (see `ProcessorGateway`).
 *
 * Every request carries an idempotency key (`<payment id>:<operation>`): a real adapter sends it
 * to the processor, so repeating a request after an ambiguous failure (a timeout, a crash
 * between the call and recording its outcome) cannot charge twice.
 */
import type { ChargeAmount, DeclineReason } from "@acme/contracts/payment"
import type { Effect } from "effect"
import { Context, Schema } from "effect"

export type Operation = "authorize" | "capture" | "void" | "refund"

export type AuthorizeOutcome =
  | { readonly _tag: "Approved"; readonly authorization: string }
  | { readonly _tag: "Declined"; readonly reason: DeclineReason }

/** The processor did not answer (error, unreachable); the same request may succeed later. */
export class ProcessorError extends Schema.TaggedError<ProcessorError>()("ProcessorError", {
  operation: Schema.Literals(["authorize", "capture", "void", "refund"]),
  message: Schema.String
}) {}

export class Processor extends Context.Service<
  Processor,
  {
    readonly authorize: (request: {
      readonly idempotencyKey: string
      readonly amount: ChargeAmount
      readonly token: string
    }) => Effect.Effect<AuthorizeOutcome, ProcessorError>
    readonly capture: (request: {
      readonly idempotencyKey: string
      readonly authorization: string
      readonly amount: ChargeAmount
    }) => Effect.Effect<void, ProcessorError>
    readonly void: (request: {
      readonly idempotencyKey: string
      readonly authorization: string
    }) => Effect.Effect<void, ProcessorError>
    readonly refund: (request: {
      readonly idempotencyKey: string
      readonly authorization: string
      readonly amount: ChargeAmount
    }) => Effect.Effect<void, ProcessorError>
  }
>()("payment/Processor") {}
