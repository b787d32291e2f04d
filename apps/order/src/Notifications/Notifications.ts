/**
 * PostgreSQL LISTEN/NOTIFY for the order service: one listening connection per instance, on one
 * channel, carrying two kinds of news from any replica's committed transactions:
 *
 * - `outbox`: a command was enqueued, so idle relay workers wake up at once instead of at their
 *   next poll;
 * - `order:<id>`: an order's saga ended, so a request waiting for its result answers now.
 *
 * Notifications are sent by `pg_notify` inside the transaction that makes the news true, so they
 * are delivered exactly when it commits (and never for a rolled-back one). They are an
 * accelerator, not a guarantee: a listener that reconnects may have missed some, so every waiter
 * also polls (the relay every `OUTBOX_POLL_INTERVAL`, a result wait every `ORDER_RESULT_POLL`).
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Deferred, Duration, Effect, Layer, Queue, Ref, Schedule } from "effect"
import type { Scope } from "effect"

/** The one channel this service notifies and listens on. */
export const channel = "order_service"

/** The payload that wakes the relays. */
export const outboxPayload = "outbox"

/** The payload announcing that an order's saga ended. */
export const orderPayload = (orderId: string) => `order:${orderId}`

export class Notifications extends Context.Service<
  Notifications,
  {
    /** Waits until a relay wake-up arrives or `timeout` passes. */
    readonly awaitOutbox: (timeout: Duration.Duration) => Effect.Effect<void>
    /** Wakes this instance's relay workers (as a notification would). */
    readonly wakeOutbox: Effect.Effect<void>
    /**
     * Watches an order until the scope closes: the deferred completes when its saga is announced
     * finished. Register before reading the order, so a notification in between is not missed.
     */
    readonly watchOrder: (orderId: string) => Effect.Effect<Deferred.Deferred<void>, never, Scope.Scope>
  }
>()("order/Notifications") {
  static readonly layer = Layer.effect(
    Notifications,
    Effect.gen(function* () {
      const pg = yield* PgClient.PgClient

      // A broadcast latch: each wake-up completes the current deferred and installs a new one.
      const outbox = yield* Ref.make(yield* Deferred.make<void>())
      const wakeOutbox = Effect.flatMap(Deferred.make<void>(), (fresh) =>
        Effect.flatMap(Ref.getAndSet(outbox, fresh), (previous) => Deferred.succeed(previous, undefined))
      ).pipe(Effect.asVoid)
      const awaitOutbox = (timeout: Duration.Duration) =>
        Effect.flatMap(Ref.get(outbox), (latch) =>
          Deferred.await(latch).pipe(Effect.timeoutOption(timeout))
        ).pipe(Effect.asVoid)

      const watchers = new Map<string, Set<Deferred.Deferred<void>>>()
      const watchOrder = (orderId: string) =>
        Effect.acquireRelease(
          Effect.map(Deferred.make<void>(), (deferred) => {
            const set = watchers.get(orderId) ?? new Set()
            set.add(deferred)
            watchers.set(orderId, set)
            return deferred
          }),
          (deferred) =>
            Effect.sync(() => {
              const set = watchers.get(orderId)
              set?.delete(deferred)
              if (set?.size === 0) watchers.delete(orderId)
            })
        )

      const dispatch = (payload: string) => {
        if (payload === outboxPayload) return wakeOutbox
        if (payload.startsWith("order:")) {
          const set = watchers.get(payload.slice("order:".length))
          if (set === undefined) return Effect.void
          return Effect.forEach(set, (deferred) => Deferred.succeed(deferred, undefined), { discard: true })
        }
        return Effect.void
      }

      // One connection listens for as long as the service runs; if it drops, listen again (and
      // wake the relays, in case a notification was lost meanwhile).
      const listen = Effect.scoped(
        Effect.gen(function* () {
          const queue = yield* pg.listen(channel)
          yield* wakeOutbox
          while (true) {
            const notification = yield* Queue.take(queue)
            yield* dispatch(notification.payload)
          }
        })
      )
      yield* listen.pipe(
        Effect.catchCause((cause) => Effect.logWarning("LISTEN connection lost; reconnecting", cause)),
        Effect.repeat(Schedule.spaced(Duration.seconds(1))),
        Effect.forkScoped
      )

      return Notifications.of({ awaitOutbox, wakeOutbox, watchOrder })
    })
  )
}
