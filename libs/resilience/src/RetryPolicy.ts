/**
 * Named retry policies as Effect `Schedule`s: full-jitter delays under `min(maxDelay, baseDelay ·
 * 2^(n-1))`, at most `maxAttempts` attempts, no delay ending past `maxElapsed` (from the first
 * failure). A `Retry-After` replaces the delay; one longer than `maxDelay` ends the retries
 * (retrying earlier than asked is wasted load, waiting longer is not what the caller chose).
 */
import { Cause, Duration, Effect, Random, Schedule } from "effect"
import { HttpClientError } from "effect/http"

export interface RetryPolicy {
  readonly name: string
  readonly maxAttempts: number
  readonly schedule: Schedule.Schedule<number, unknown>
  readonly bound: (retry: number) => number
}

/** `min(maxDelay, baseDelay * 2^(retry-1))`: the bound of the jittered delay before `retry`. */
export const delayBoundMillis = (policy: RetryPolicy, retry: number): number => policy.bound(retry)

export const retryAfterMillis = (error: unknown, now: number): number | undefined => {
  if (!HttpClientError.isHttpClientError(error)) return undefined
  const header = error.response?.headers["retry-after"]
  if (header === undefined) return undefined
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000
  const date = Date.parse(header)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

export const make = (options: {
  readonly name: string
  readonly maxAttempts: number
  readonly baseDelay: Duration.Input
  readonly maxDelay: Duration.Input
  readonly maxElapsed: Duration.Input
}): RetryPolicy => {
  const base = Duration.toMillis(Duration.fromInputUnsafe(options.baseDelay))
  const cap = Duration.toMillis(Duration.fromInputUnsafe(options.maxDelay))
  const budget = Duration.toMillis(Duration.fromInputUnsafe(options.maxElapsed))
  const bound = (retry: number) => Math.min(cap, base * 2 ** (retry - 1))
  const schedule = Schedule.fromStepWithMetadata(
    Effect.succeed((meta: Schedule.InputMetadata<unknown>) => {
      if (meta.attempt >= options.maxAttempts) return Cause.done(meta.attempt)
      const requested = retryAfterMillis(meta.input, meta.now)
      if (requested !== undefined && requested > cap) return Cause.done(meta.attempt)
      return Effect.flatMap(Random.next, (random) => {
        const delay = requested ?? random * bound(meta.attempt)
        return meta.elapsed + delay > budget
          ? Cause.done(meta.attempt)
          : Effect.succeed([meta.attempt, Duration.millis(delay)] as [number, Duration.Duration])
      })
    })
  )
  return { name: options.name, maxAttempts: options.maxAttempts, schedule, bound }
}

/** One attempt: for calls retried elsewhere (the order saga's outbox). */
export const none = make({ name: "none", maxAttempts: 1, baseDelay: 0, maxDelay: 0, maxElapsed: 0 })

/** Interactive calls: 3 attempts, backoff from 100 ms capped at 1 s, 3 s budget. */
export const transient: RetryPolicy = make({
  name: "transient",
  maxAttempts: 3,
  baseDelay: "100 millis",
  maxDelay: "1 second",
  maxElapsed: "3 seconds"
})
