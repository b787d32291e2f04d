/**
 * A bulkhead: `maxConcurrent` calls run, at most `maxQueue` more wait (first come, first served),
 * the next is rejected at once. Effect's `Semaphore` lets any number wait: the bound on the queue
 * is what this adds. Admission is counted in one synchronous, uninterruptible step that installs
 * its release, so concurrent fibers can neither overfill it nor leak a slot when interrupted.
 */
import { Effect, Semaphore } from "effect"

/** Runs `self` in the bulkhead, or `rejected` at once when it is full. */
export type Bulkhead = <A, E, R, E2>(
  self: Effect.Effect<A, E, R>,
  rejected: Effect.Effect<never, E2>
) => Effect.Effect<A, E | E2, R>

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
  return (self, rejected) =>
    Effect.uninterruptibleMask((restore) => {
      if (admitted >= maxConcurrent + maxQueue) return rejected
      admitted++
      return Effect.onExitPrimitive(restore(slots.withPermit(self)), release, true)
    })
}
