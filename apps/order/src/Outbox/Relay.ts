/**
 * The outbox relay. It never holds a transaction, a row lock or a pooled connection across a
 * network call: a row is claimed under a lease (one short statement), delivered with nothing
 * open, and its outcome recorded in one short transaction that checks the claim's token.
 *
 * - Claim: one claimer fiber per instance takes due rows in batches (`OUTBOX_CLAIM_BATCH`, never
 *   more than free delivery slots), each stamped with a new `claim_token` and a lease of
 *   `OUTBOX_LEASE`. It wakes on NOTIFY (commands enqueued outside a relay's reach) or every
 *   `OUTBOX_POLL_INTERVAL` (retries coming due, leases run out).
 * - Deliver: up to `OUTBOX_MAX_IN_FLIGHT` deliveries at once per instance, each a fiber of its
 *   own; a row that waited long for its turn renews its lease first. A delivery taking over
 *   half its lease is cut short (a failed attempt), leaving the other half to record that.
 * - Record: the handler's writes (the saga's next state and next command) and the row's end
 *   (done, rescheduled, dead, superseded) commit together, only if the row still carries the
 *   token. A relay whose lease ran out and whose row was claimed again elsewhere records
 *   nothing: its outcome is discarded (fencing), and the new claim's delivery counts.
 * - Next: the command a record enqueues is inserted already claimed by this instance and
 *   delivered right after the commit, in process (`OutboxRepo.transaction`): a saga runs its
 *   steps back to back, with no claim query, no NOTIFY and no other relay woken.
 *
 * A crash anywhere loses nothing: the lease runs out and the row is delivered again, so
 * handlers must be idempotent (every saga step is, by order id).
 *
 * A failed delivery counts an attempt (claims count them) and is retried after an exponential
 * backoff with full jitter (the bound of `RetryPolicy.delayBoundMillis`, `OUTBOX_BACKOFF_BASE`
 * doubling up to `OUTBOX_BACKOFF_MAX`). After `OUTBOX_MAX_ATTEMPTS` (or at once, for a failure
 * that no retry can fix) the row is dead-lettered: kept with status `dead` and handed to the
 * handler, which compensates. Rows marked `retry_until_done` (compensations) are never
 * dead-lettered. Before a retry is scheduled the handler may take the command back (`abandon`:
 * a cancelled saga), and the row is superseded instead.
 *
 * Each delivery continues the trace of the span that enqueued the row (its W3C traceparent), so
 * one trace follows an order across the asynchronous hops.
 */
import { RetryPolicy } from "@acme/resilience"
import { Timeout } from "@acme/server"
import {
  Cause,
  Context,
  Duration,
  Effect,
  FiberSet,
  Layer,
  Metric,
  Option,
  Random,
  Result,
  Schedule,
  Schema,
  Semaphore
} from "effect"
import type { Tracer } from "effect"
import { Headers, HttpTraceContext } from "effect/http"
import * as Metrics from "../Metrics.ts"
import { Notifications } from "../Notifications/Notifications.ts"
import * as Settings from "../Settings.ts"
import type { OutboxMessage } from "./OutboxRepo.ts"
import { LeaseLost, OutboxRepo } from "./OutboxRepo.ts"

/** A delivery that did not go through. */
export class DeliveryFailure extends Schema.TaggedError<DeliveryFailure>()("DeliveryFailure", {
  message: Schema.String,
  /** Whether another attempt may succeed (a timeout, a 503); if not, the row is dead-lettered now. */
  retryable: Schema.Boolean,
  /**
   * No attempt before this many milliseconds can succeed (the downstream's circuit is open for
   * that long): the retry waits at least this long, so an outage shorter than the attempts'
   * budget cannot use it up on rejections that never reached the downstream.
   */
  retryAfterMillis: Schema.optional(Schema.Number)
}) {}

/** What the relay delivers to: implemented by the feature that enqueues the commands. */
export class OutboxHandler extends Context.Service<
  OutboxHandler,
  {
    /**
     * Delivers the command (no transaction is open) and answers the effect that records its
     * outcome: the relay runs it in the transaction that finishes the row, if its claim still
     * holds (so the handler may enqueue the saga's next command).
     */
    readonly handle: (message: OutboxMessage) => Effect.Effect<Effect.Effect<void>, DeliveryFailure>
    /** The command ran out of attempts and will never be delivered; in the transaction that finishes the row. */
    readonly deadLettered: (message: OutboxMessage, error: string) => Effect.Effect<void>
    /**
     * After a failed attempt that would be retried: whether the handler takes the command back
     * instead (e.g. its saga was cancelled meanwhile). If it does, it answers the effect that
     * records it, which the relay runs once the row is superseded; the row is not retried.
     * In the transaction that finishes the row.
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
    /** Claims one due row and delivers it, waiting for the outcome: whether there was one (tests). */
    readonly processOne: Effect.Effect<boolean>
    /** Delivers a claimed row and records its outcome if the claim still holds (tests). */
    readonly deliver: (message: OutboxMessage) => Effect.Effect<void>
  }
>()("order/Relay") {
  /** The relay running: the claimer, in-process delivery of new commands, the lag gauge, the purge. */
  static readonly layer = Layer.effect(
    Relay,
    Effect.gen(function* () {
      return yield* Relay.make({ running: true })
    })
  )

  /** The relay idle: rows are processed only when `processOne` is called (tests). */
  static readonly layerManual = Layer.effect(
    Relay,
    Effect.gen(function* () {
      return yield* Relay.make({ running: false })
    })
  )

  static readonly make = Effect.fnUntraced(function* (options: { readonly running: boolean }) {
    const repo = yield* OutboxRepo
    const handler = yield* OutboxHandler
    const notifications = yield* Notifications
    const settings = yield* Settings.outbox
    const policy = RetryPolicy.make({
      name: "outbox",
      maxAttempts: settings.maxAttempts,
      baseDelay: settings.backoffBase,
      maxDelay: settings.backoffMax,
      maxElapsed: Duration.infinity
    })

    const annotations = (message: OutboxMessage) => ({
      "outbox.id": message.id,
      "outbox.command": message.command,
      "saga.id": message.sagaId,
      attempt: message.attempts + 1
    })

    const lostLease = (message: OutboxMessage) =>
      Effect.as(
        Effect.logWarning("outbox lease lost (claimed again elsewhere); outcome discarded").pipe(
          Effect.annotateLogs(annotations(message))
        ),
        false
      )

    /** After a failed attempt: retry later, or dead-letter. In a transaction; false if the lease was lost. */
    const settleFailure = (
      message: OutboxMessage,
      error: string,
      retryable: boolean,
      retryAfterMillis: number = 0
    ) =>
      Effect.gen(function* () {
        const attempt = message.attempts + 1
        const exhausted = !retryable || attempt >= settings.maxAttempts
        const log = Effect.annotateLogs({ ...annotations(message), error })
        if (exhausted && !message.retryUntilDone) {
          if (!(yield* repo.finish(message, "dead", error))) return yield* lostLease(message)
          yield* handler.deadLettered(message, error)
          yield* Metric.update(Metrics.deadLetters(message.command), 1)
          yield* Effect.logWarning("outbox command dead-lettered").pipe(log)
          return true
        }
        const abandoned = yield* handler.abandon(message)
        if (Option.isSome(abandoned)) {
          if (!(yield* repo.finish(message, "superseded", error))) return yield* lostLease(message)
          yield* abandoned.value
          yield* Effect.logInfo("outbox command abandoned by its handler after a failed attempt").pipe(log)
          return true
        }
        const delay = Math.round(
          retryAfterMillis + RetryPolicy.delayBoundMillis(policy, attempt) * (yield* Random.next)
        )
        if (!(yield* repo.reschedule(message, delay, error))) return yield* lostLease(message)
        yield* (
          exhausted
            ? Effect.logError("compensation still failing; retrying until it succeeds")
            : Effect.logInfo("outbox delivery failed; retrying")
        ).pipe(log, Effect.annotateLogs({ delayMillis: delay }))
        return true
      })

    // Half the lease for the call, half to record its outcome before the row may be claimed again.
    const deliveryTimeout = Duration.divideUnsafe(settings.lease, 2)
    const outlivedLease = new DeliveryFailure({
      message: "delivery took over half its lease",
      retryable: true
    })

    /**
     * Delivers a claimed row with no transaction open, then records the outcome in one short
     * transaction, fenced by the claim's token. In the trace of the span that enqueued it.
     */
    const deliver = (message: OutboxMessage): Effect.Effect<void> => {
      const parent = parentOf(message.traceparent)
      return Effect.gen(function* () {
        const delivered = yield* Effect.result(
          handler
            .handle(message)
            .pipe(Timeout.orElse({ duration: deliveryTimeout, orElse: () => Effect.fail(outlivedLease) }))
        )
        // Delivered: the row is finished with the record's write (see `OutboxRepo.carrying`),
        // which rolls the record back with `LeaseLost` if the claim no longer holds.
        const record: Effect.Effect<unknown> = Result.isSuccess(delivered)
          ? Effect.andThen(repo.finishDelivered(message), delivered.success)
          : settleFailure(
              message,
              delivered.failure.message,
              delivered.failure.retryable,
              delivered.failure.retryAfterMillis
            )
        yield* repo.transaction(record)
      }).pipe(
        Effect.catchCause((cause) => {
          if (Cause.hasInterrupts(cause)) return Effect.failCause(cause)
          if (Cause.squash(cause) instanceof LeaseLost) return lostLease(message)
          // A defect (in the handler or its record) rolled the record back: count it as a failed
          // attempt in a transaction of its own, so a row that always fails backs off instead
          // of looping.
          return Effect.logError("outbox delivery failed unexpectedly", cause).pipe(
            Effect.andThen(repo.transaction(settleFailure(message, Cause.pretty(cause), true))),
            Effect.catchCause((again) =>
              Cause.hasInterrupts(again)
                ? Effect.failCause(again)
                : Effect.logWarning("outbox retry failed", again)
            ),
            Effect.asVoid
          )
        }),
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

    const processOne: Effect.Effect<boolean> = Effect.flatMap(repo.claim(1), (claimed) =>
      claimed.length === 0 ? Effect.succeed(false) : Effect.as(deliver(claimed[0]), true)
    )

    if (options.running) {
      const slots = yield* Semaphore.make(settings.maxInFlight)
      const deliveries = yield* FiberSet.make()
      // Deliveries started or waiting for a slot; the claimer takes no more than the free slots.
      let pending = 0
      // A row that waited for a slot for over a quarter of its lease gets a fresh lease first, so
      // that it is not claimed again elsewhere while it is being delivered here.
      const renewAfter = Duration.toMillis(settings.lease) / 4
      const deliverClaimed = (message: OutboxMessage, claimedAt: number) =>
        Effect.suspend(() =>
          Date.now() - claimedAt < renewAfter
            ? deliver(message)
            : Effect.flatMap(repo.renew(message), (held) => (held ? deliver(message) : Effect.void))
        )
      const dispatch = (messages: ReadonlyArray<OutboxMessage>) =>
        Effect.forEach(
          messages,
          (message) => {
            const claimedAt = Date.now()
            pending++
            // Interruptible whatever the committing fiber is (a request is not, while it places).
            return FiberSet.run(
              deliveries,
              Effect.interruptible(slots.withPermit(deliverClaimed(message, claimedAt))).pipe(
                Effect.ensuring(
                  Effect.sync(() => {
                    pending--
                  })
                )
              )
            )
          },
          { discard: true }
        )
      yield* repo.register(dispatch)

      const claimer = Effect.gen(function* () {
        while (true) {
          const free = Math.min(settings.claimBatch, settings.maxInFlight - pending)
          const claimed = free > 0 ? yield* repo.claim(free) : []
          yield* dispatch(claimed)
          // A full batch: there may be more due right away.
          if (claimed.length === 0 || claimed.length < free) {
            yield* notifications.awaitOutbox(settings.pollInterval)
          }
        }
      })
      yield* claimer.pipe(
        Effect.catchCause((cause) =>
          Cause.hasInterrupts(cause)
            ? Effect.failCause(cause)
            : Effect.logWarning("outbox claim failed", cause)
        ),
        Effect.repeat(Schedule.spaced(settings.pollInterval)),
        Effect.forkScoped
      )

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

    return Relay.of({ processOne, deliver })
  })
}
