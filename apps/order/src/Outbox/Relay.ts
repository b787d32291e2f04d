/**
 * The outbox relay: `OUTBOX_RELAY_CONCURRENCY` workers per instance, fibers forked into the
 * layer's scope (they start with the service and are interrupted when it shuts down). It knows
 * nothing of orders: an {@link OutboxHandler} delivers each command and records its effect.
 *
 * One delivery is one transaction: claim the oldest due row (`FOR UPDATE SKIP LOCKED`, so
 * replicas never claim the same row and never wait for each other), deliver it with the row
 * lock held, then record the outcome (the handler's writes, e.g. the saga's next state and next
 * command) and finish the row, and commit. A crash anywhere rolls everything back and the row
 * is delivered again, so handlers must be idempotent (every saga step is, by order id). Each
 * worker holds one database connection while it delivers, so the relay's pool use is bounded by
 * its concurrency.
 *
 * A failed delivery counts an attempt and is retried after an exponential backoff with full
 * jitter (the bound of `RetryPolicy.delayBoundMillis`, `OUTBOX_BACKOFF_BASE` doubling up to
 * `OUTBOX_BACKOFF_MAX`). After `OUTBOX_MAX_ATTEMPTS` (or at once, for a failure that no retry
 * can fix) the row is dead-lettered: kept with status `dead` and handed to the handler, which
 * compensates. Rows marked `retry_until_done` (compensations) are never dead-lettered. Before a
 * retry is scheduled the handler may take the command back (`abandon`: a cancelled saga), and
 * the row is superseded instead.
 *
 * Each delivery continues the trace of the span that enqueued the row (its W3C traceparent), so
 * one trace follows an order across the asynchronous hops.
 */
import { RetryPolicy } from "@acme/resilience"
import {
  Cause,
  Context,
  Duration,
  Effect,
  Layer,
  Metric,
  Option,
  Random,
  Result,
  Schedule,
  Schema
} from "effect"
import type { Tracer } from "effect"
import { Headers, HttpTraceContext } from "effect/http"
import * as Metrics from "../Metrics.ts"
import { Notifications } from "../Notifications/Notifications.ts"
import { outboxConfig } from "./OutboxConfig.ts"
import type { OutboxMessage } from "./OutboxRepo.ts"
import { InRelay, OutboxRepo } from "./OutboxRepo.ts"

/** A delivery that did not go through. */
export class DeliveryFailure extends Schema.TaggedError<DeliveryFailure>()("DeliveryFailure", {
  message: Schema.String,
  /** Whether another attempt may succeed (a timeout, a 503); if not, the row is dead-lettered now. */
  retryable: Schema.Boolean
}) {}

/** What the relay delivers to: implemented by the feature that enqueues the commands. */
export class OutboxHandler extends Context.Service<
  OutboxHandler,
  {
    /**
     * Delivers the command, inside the transaction that claimed it, and answers the effect that
     * records its outcome: the relay runs it in the same transaction once the row is finished
     * (so the handler may enqueue the saga's next command).
     */
    readonly handle: (message: OutboxMessage) => Effect.Effect<Effect.Effect<void>, DeliveryFailure>
    /** The command ran out of attempts and will never be delivered; same transaction. */
    readonly deadLettered: (message: OutboxMessage, error: string) => Effect.Effect<void>
    /**
     * After a failed attempt that would be retried: whether the handler takes the command back
     * instead (e.g. its saga was cancelled meanwhile). If it does, it answers the effect that
     * records it, which the relay runs once the row is superseded; the row is not retried.
     * Same transaction.
     */
    readonly abandon: (message: OutboxMessage) => Effect.Effect<Option.Option<Effect.Effect<void>>>
  }
>()("order/OutboxHandler") {}

/** The span a traceparent names, to continue its trace. */
export const parentOf = (traceparent: string | undefined): Tracer.ExternalSpan | undefined =>
  traceparent === undefined
    ? undefined
    : Option.getOrUndefined(HttpTraceContext.w3c(Headers.fromRecordUnsafe({ traceparent })))

/** The W3C traceparent of the current span, to store with a command; none outside a span. */
export const currentTraceparent: Effect.Effect<string | undefined> = Effect.currentSpan.pipe(
  Effect.map((span) => HttpTraceContext.toHeaders(span).traceparent),
  Effect.orElseSucceed(() => undefined)
)

export class Relay extends Context.Service<
  Relay,
  {
    /** Claims and processes one due row: whether there was one. */
    readonly processOne: Effect.Effect<boolean>
  }
>()("order/Relay") {
  /** The relay with its workers running (and the lag gauge and the purge of finished rows). */
  static readonly layer = Layer.effect(
    Relay,
    Effect.gen(function* () {
      return yield* Relay.make({ workers: true })
    })
  )

  /** The relay without workers: rows are processed only when `processOne` is called (tests). */
  static readonly layerManual = Layer.effect(
    Relay,
    Effect.gen(function* () {
      return yield* Relay.make({ workers: false })
    })
  )

  static readonly make = Effect.fnUntraced(function* (options: { readonly workers: boolean }) {
    const repo = yield* OutboxRepo
    const handler = yield* OutboxHandler
    const notifications = yield* Notifications
    const settings = yield* outboxConfig
    const policy = RetryPolicy.make({
      name: "outbox",
      maxAttempts: settings.maxAttempts,
      baseDelay: settings.backoffBase,
      maxDelay: settings.backoffMax,
      maxElapsed: Duration.infinity
    })

    /** After a failed attempt: retry later, or dead-letter. Inside the row's transaction. */
    const settleFailure = (message: OutboxMessage, error: string, retryable: boolean) =>
      Effect.gen(function* () {
        const attempt = message.attempts + 1
        const exhausted = !retryable || attempt >= settings.maxAttempts
        const log = Effect.annotateLogs({
          "outbox.id": message.id,
          "outbox.command": message.command,
          "saga.id": message.sagaId,
          attempt,
          error
        })
        if (exhausted && !message.retryUntilDone) {
          yield* repo.finish(message.id, "dead", error)
          yield* handler.deadLettered(message, error)
          yield* Metric.update(Metrics.deadLetters(message.command), 1)
          yield* Effect.logWarning("outbox command dead-lettered").pipe(log)
          return
        }
        const abandoned = yield* handler.abandon(message)
        if (Option.isSome(abandoned)) {
          yield* repo.finish(message.id, "superseded", error)
          yield* abandoned.value
          yield* Effect.logInfo("outbox command abandoned by its handler after a failed attempt").pipe(log)
          return
        }
        const delay = Math.round(RetryPolicy.delayBoundMillis(policy, attempt) * (yield* Random.next))
        yield* repo.reschedule(message.id, delay, error)
        yield* (
          exhausted
            ? Effect.logError("compensation still failing; retrying until it succeeds")
            : Effect.logInfo("outbox delivery failed; retrying")
        ).pipe(log, Effect.annotateLogs({ delayMillis: delay }))
      })

    /** Delivers a claimed row and finishes it (done, rescheduled or dead), in its trace. */
    const deliver = (message: OutboxMessage) => {
      const parent = parentOf(message.traceparent)
      return Effect.gen(function* () {
        const delivered = yield* Effect.result(handler.handle(message))
        if (Result.isSuccess(delivered)) {
          yield* repo.finish(message.id, "done", undefined)
          yield* delivered.success
        } else {
          yield* settleFailure(message, delivered.failure.message, delivered.failure.retryable)
        }
      }).pipe(
        Effect.provideService(InRelay, true),
        Effect.withSpan("Outbox.deliver", {
          kind: "consumer",
          attributes: {
            "outbox.id": message.id,
            "outbox.command": message.command,
            "outbox.attempt": message.attempts + 1,
            "saga.id": message.sagaId
          },
          ...(parent === undefined ? { root: true } : { parent })
        })
      )
    }

    const processOne: Effect.Effect<boolean> = Effect.suspend(() => {
      let claimed: OutboxMessage | undefined
      return repo
        .transaction(
          Effect.gen(function* () {
            const due = yield* repo.claimDue
            if (Option.isNone(due)) return false
            claimed = due.value
            yield* deliver(due.value)
            return true
          })
        )
        .pipe(
          Effect.catchCause((cause) => {
            if (Cause.hasInterrupts(cause)) return Effect.failCause(cause)
            const message = claimed
            if (message === undefined) {
              return Effect.as(Effect.logWarning("outbox claim failed", cause), false)
            }
            // A defect while delivering rolled the transaction back: count the attempt in a
            // transaction of its own, so a row that always fails backs off instead of looping.
            return Effect.logError("outbox delivery failed unexpectedly", cause).pipe(
              Effect.andThen(
                repo.transaction(
                  Effect.flatMap(repo.claimById(message.id), (again) =>
                    Option.isSome(again) ? settleFailure(again.value, Cause.pretty(cause), true) : Effect.void
                  )
                )
              ),
              Effect.catchCause((again) =>
                Cause.hasInterrupts(again)
                  ? Effect.failCause(again)
                  : Effect.logWarning("outbox retry failed", again)
              ),
              Effect.as(true)
            )
          })
        )
    })

    if (options.workers) {
      const worker = Effect.gen(function* () {
        while (true) {
          if (!(yield* processOne)) yield* notifications.awaitOutbox(settings.pollInterval)
        }
      })
      for (let i = 0; i < settings.concurrency; i++) yield* Effect.forkScoped(worker)

      yield* repo.lag.pipe(
        Effect.flatMap((seconds) => Metric.update(Metrics.outboxLag, seconds)),
        Effect.catchCause((cause) => Effect.logDebug("outbox lag not measured", cause)),
        Effect.repeat(Schedule.spaced(settings.pollInterval)),
        Effect.forkScoped
      )

      const retentionMillis = Duration.toMillis(settings.retention)
      const purge = Effect.gen(function* () {
        while ((yield* repo.purgeFinished(retentionMillis, 1000)) === 1000) {
          // more to delete
        }
      })
      yield* purge.pipe(
        Effect.catchCause((cause) => Effect.logWarning("outbox purge failed", cause)),
        Effect.repeat(Schedule.spaced(Duration.hours(1))),
        Effect.forkScoped
      )
    }

    return Relay.of({ processOne })
  })
}
