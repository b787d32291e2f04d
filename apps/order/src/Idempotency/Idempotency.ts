/**
 * Idempotency keys with Stripe's semantics, scoped per customer:
 *
 * - a new key: the request runs, and the key is stored in the same transaction as what the
 *   request creates (the order and its first saga command), so a key never exists without its
 *   order, nor an order without its key;
 * - the same key and the same body (by SHA-256 of the decoded request) after the first request
 *   answered: the stored answer (status and body) is replayed;
 * - the same key with another body: 422 `IdempotencyKeyReused`;
 * - the same key while the first request is still in flight: 409 `IdempotencyKeyInFlight`.
 *
 * The request in flight holds a lease (`IDEMPOTENCY_LEASE`). One that is interrupted (its
 * client went away) gives the lease back; one that crashed loses it when it runs out. Either
 * way the next request with that key and body takes over: the order already exists, so it only
 * waits for the result and stores the answer it gives. Keys expire after `IDEMPOTENCY_TTL`
 * (an expired key is as good as new) and are deleted by a background sweeper.
 */
import type { OrderId } from "@acme/contracts"
import { IdempotencyKeyInFlight, IdempotencyKeyReused } from "@acme/contracts/order"
import { Context, Duration, Effect, Layer, Option, Schedule } from "effect"
import { createHash } from "node:crypto"
import * as Settings from "../Settings.ts"
import type { KeyRef } from "./IdempotencyRepo.ts"
import { IdempotencyRepo } from "./IdempotencyRepo.ts"

/** A key, the customer it belongs to, and the fingerprint of the request body it came with. */
export interface IdempotentRequest extends KeyRef {
  readonly requestHash: string
}

/** How a request under a key starts. */
export type Begun =
  /** A new key: the request created its order (with the key, in one transaction). */
  | { readonly _tag: "New"; readonly orderId: OrderId }
  /** A key whose first request never answered (it crashed or was interrupted): carry on with its order. */
  | { readonly _tag: "Resumed"; readonly orderId: OrderId }
  /** A key that was answered: its stored answer. */
  | { readonly _tag: "Replay"; readonly status: number; readonly body: string }

/** The fingerprint of a request body: SHA-256 of its canonical JSON (the decoded request). */
export const fingerprint = (body: unknown) => createHash("sha256").update(JSON.stringify(body)).digest("hex")

export class Idempotency extends Context.Service<
  Idempotency,
  {
    /**
     * Starts a request under its key. For a new key `create(orderId)` runs in the transaction
     * that stores the key; `transaction` is that transaction.
     */
    readonly begin: <E>(
      request: IdempotentRequest,
      newOrderId: OrderId,
      create: Effect.Effect<void, E>,
      transaction: <A, E2>(self: Effect.Effect<A, E2>) => Effect.Effect<A, E2>
    ) => Effect.Effect<Begun, E | IdempotencyKeyReused | IdempotencyKeyInFlight>
    /** Stores the answer the request gave: its status and its JSON body, as sent. */
    readonly complete: (ref: KeyRef, status: number, body: string) => Effect.Effect<void>
    /** Gives the key's lease back without an answer (the request was interrupted). */
    readonly release: (ref: KeyRef) => Effect.Effect<void>
    /** Deletes the expired keys now; how many. */
    readonly sweep: Effect.Effect<number>
  }
>()("order/Idempotency") {
  static readonly layer = Layer.effect(
    Idempotency,
    Effect.gen(function* () {
      const repo = yield* IdempotencyRepo
      const config = yield* Settings.idempotency
      const leaseMillis = Duration.toMillis(config.lease)
      const ttlMillis = Duration.toMillis(config.ttl)

      const begin = Effect.fnUntraced(function* <E>(
        request: IdempotentRequest,
        newOrderId: OrderId,
        create: Effect.Effect<void, E>,
        transaction: <A, E2>(self: Effect.Effect<A, E2>) => Effect.Effect<A, E2>
      ) {
        // Twice at most: a key found expired between the claim and the read is claimed again.
        for (let round = 0; round < 2; round++) {
          const claimed = yield* transaction(
            Effect.gen(function* () {
              const fresh = yield* repo.claim(
                request,
                { requestHash: request.requestHash, orderId: newOrderId },
                leaseMillis,
                ttlMillis
              )
              if (fresh) yield* create
              return fresh
            })
          )
          if (claimed) return { _tag: "New", orderId: newOrderId } as Begun
          const existing = yield* repo.find(request)
          if (Option.isNone(existing)) continue
          const record = existing.value
          if (record.requestHash !== request.requestHash) {
            return yield* new IdempotencyKeyReused({
              detail: `Idempotency key ${request.key} was used with another request body`
            })
          }
          if (Option.isSome(record.response)) {
            return { _tag: "Replay", ...record.response.value } as Begun
          }
          if (!record.leased && (yield* repo.takeOver(request, leaseMillis))) {
            return { _tag: "Resumed", orderId: record.orderId } as Begun
          }
          return yield* new IdempotencyKeyInFlight({
            detail: `A request with idempotency key ${request.key} is in progress; retry after it finishes`
          })
        }
        return yield* Effect.die(new Error(`idempotency key ${request.key} could not be claimed`))
      })

      const sweep = Effect.gen(function* () {
        let deleted = 0
        while (true) {
          const batch = yield* repo.deleteExpired(config.sweepBatch)
          deleted += batch
          if (batch < config.sweepBatch) return deleted
        }
      })

      yield* sweep.pipe(
        Effect.tap((deleted) =>
          deleted > 0
            ? Effect.logInfo("expired idempotency keys deleted").pipe(Effect.annotateLogs({ deleted }))
            : Effect.void
        ),
        Effect.catchCause((cause) => Effect.logWarning("idempotency key sweep failed", cause)),
        Effect.repeat(Schedule.spaced(config.sweepInterval)),
        Effect.forkScoped
      )

      return Idempotency.of({
        begin,
        complete: (ref, status, body) => repo.complete(ref, status, body),
        release: (ref) => repo.release(ref),
        sweep
      })
    })
  ).pipe(Layer.provide(IdempotencyRepo.layer))
}
