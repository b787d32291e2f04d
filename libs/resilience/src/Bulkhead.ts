/**
 * Bulkhead: at most `maxConcurrent` calls run at once, at most `maxQueue`
 * more wait (first come, first served) for a slot, and anything beyond that
 * is rejected at once with a typed {@link BulkheadFull}.
 *
 * The bound on the queue is the point: an unbounded wait turns a slow
 * downstream into unbounded memory and latency upstream, while an immediate
 * rejection lets the caller shed load or degrade.
 *
 * Slots are an Effect `Semaphore`; the admission count (running + queued) is
 * checked and incremented in one synchronous step, in an uninterruptible
 * region that also installs its release, so concurrent fibers can neither
 * overfill the bulkhead nor leak a slot when interrupted while queued.
 *
 * @since 0.0.0
 */
import { Effect, Semaphore } from "effect"
import { dual } from "effect/Function"
import { BulkheadFull } from "./Errors.ts"

/**
 * @since 0.0.0
 * @category models
 */
export interface Options {
  /** Name used in the rejection error (usually the downstream's). */
  readonly name: string
  /** Calls allowed to run at once. */
  readonly maxConcurrent: number
  /** Callers allowed to wait for a slot; `0` rejects as soon as all slots are taken. */
  readonly maxQueue: number
}

/**
 * @since 0.0.0
 * @category models
 */
export interface Bulkhead {
  readonly name: string
  readonly maxConcurrent: number
  readonly maxQueue: number
  /** Calls currently admitted (running plus queued). */
  readonly admitted: Effect.Effect<number>
  /** Runs `self` in the bulkhead. */
  readonly run: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadFull, R>
}

/**
 * Creates a bulkhead outside of an effect (e.g. at module level).
 *
 * @since 0.0.0
 * @category constructors
 */
export const makeUnsafe = (options: Options): Bulkhead => {
  const { maxConcurrent, maxQueue, name } = options
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
    throw new RangeError(`Bulkhead "${name}": maxConcurrent must be an integer >= 1`)
  }
  if (!Number.isInteger(maxQueue) || maxQueue < 0) {
    throw new RangeError(`Bulkhead "${name}": maxQueue must be an integer >= 0`)
  }
  const capacity = maxConcurrent + maxQueue
  const slots = Semaphore.makeUnsafe(maxConcurrent)
  let admitted = 0
  const release = () => {
    admitted--
    return undefined
  }
  const reject = () => Effect.fail(new BulkheadFull({ bulkhead: name, maxConcurrent, maxQueue }))
  return {
    name,
    maxConcurrent,
    maxQueue,
    admitted: Effect.sync(() => admitted),
    run: <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | BulkheadFull, R> =>
      Effect.uninterruptibleMask((restore) => {
        if (admitted >= capacity) return reject()
        admitted++
        return Effect.onExitPrimitive(restore(slots.withPermit(self)), release, true)
      })
  }
}

/**
 * Creates a bulkhead.
 *
 * @since 0.0.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Bulkhead> => Effect.sync(() => makeUnsafe(options))

/**
 * Runs `self` in `bulkhead`.
 *
 * @since 0.0.0
 * @category combinators
 */
export const withBulkhead: {
  (bulkhead: Bulkhead): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadFull, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, bulkhead: Bulkhead): Effect.Effect<A, E | BulkheadFull, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, bulkhead: Bulkhead): Effect.Effect<A, E | BulkheadFull, R> =>
    bulkhead.run(self)
)
