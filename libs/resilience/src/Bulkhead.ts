/**
 * A bulkhead: at most `maxConcurrent` calls run at once, at most `maxQueue` more wait (first
 * come, first served), and anything beyond is rejected at once. Effect's `Semaphore` bounds the
 * running calls but lets any number wait; the bound on the queue is what this adds: an unbounded
 * wait turns a slow downstream into unbounded memory and latency upstream.
 *
 * The admission count is checked and incremented in one synchronous step, in an uninterruptible
 * region that also installs its release, so concurrent fibers can neither overfill the bulkhead
 * nor leak a slot when interrupted while queued.
 */
import { Effect, Semaphore } from "effect"

export interface Bulkhead {
  /** Runs `self` in the bulkhead, or `rejected` at once when it is full. */
  readonly run: <A, E, R, E2>(
    self: Effect.Effect<A, E, R>,
    rejected: Effect.Effect<never, E2>
  ) => Effect.Effect<A, E | E2, R>
  /** Calls admitted (running plus queued). */
  readonly admitted: () => number
}

export const make = (options: { readonly maxConcurrent: number; readonly maxQueue: number }): Bulkhead => {
  const { maxConcurrent, maxQueue } = options
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1 || !Number.isInteger(maxQueue) || maxQueue < 0) {
    throw new RangeError("Bulkhead: maxConcurrent must be an integer >= 1 and maxQueue >= 0")
  }
  const slots = Semaphore.makeUnsafe(maxConcurrent)
  let admitted = 0
  const release = () => {
    admitted--
    return undefined
  }
  return {
    admitted: () => admitted,
    run: (self, rejected) =>
      Effect.uninterruptibleMask((restore) => {
        if (admitted >= maxConcurrent + maxQueue) return rejected
        admitted++
        return Effect.onExitPrimitive(restore(slots.withPermit(self)), release, true)
      })
  }
}
