/**
 * Circuit breaker.
 *
 * ```text
 *            N consecutive failures, or failure ratio >= threshold
 *            over the last `windowSize` calls (once >= minimumCalls)
 *   closed ───────────────────────────────────────────────────────▶ open
 *     ▲                                                              │
 *     │ a probe succeeds                      openDuration elapsed,  │
 *     │                                       next call arrives      ▼
 *     └──────────────────────────── half-open ◀─────────────────────┘
 *                                     │   ▲
 *                                     └───┘ a probe fails: open again
 * ```
 *
 * - While **open**, calls fail at once with {@link CircuitOpen} (breaker name,
 *   time until it will probe again) and the wrapped effect does not run.
 * - **Half-open** admits at most `halfOpenMaxProbes` calls at once; the
 *   others fail fast. The first probe to finish decides: success closes the
 *   breaker, a counted failure reopens it for another `openDuration`. Results
 *   of calls admitted before a transition are ignored after it, so a slow call
 *   from the closed period cannot reopen a breaker that has since recovered.
 * - Which failures count is configurable; the default counts transient ones
 *   ({@link Classify.isTransient}), so a downstream answering `404` or `422`
 *   is healthy and keeps the breaker closed. A failure that does not count is
 *   a success for the breaker. Interruptions count as nothing; defects are
 *   passed to the predicate like failures.
 * - The open -> half-open transition happens lazily, on the first call after
 *   `openDuration`; until then the state gauge keeps reporting open.
 *
 * Every transition is logged (`Effect.logWarning` when opening,
 * `Effect.logInfo` otherwise, annotated with `breaker`) and exported on the
 * `resilience.circuit_breaker.state` gauge (0 closed, 1 open, 2 half-open).
 *
 * Concurrency: the state is read and updated only in synchronous steps (no
 * yield point between reading the state and writing the new one). On the
 * single-threaded JavaScript runtime that makes each admission and each
 * recorded result atomic with respect to every other fiber, exactly as
 * Effect's own `Semaphore` does it, without a lock round-trip on every call.
 * Taking a half-open probe slot happens in an uninterruptible region that
 * also installs the handler giving it back, so an interrupted caller cannot
 * leak a slot; a closed-state admission changes nothing and skips that
 * region (the common path stays two effect nodes). Time is read from the
 * Effect `Clock`, so `TestClock` drives it.
 *
 * @since 0.0.0
 */
import { Cause, Clock, Duration, Effect, Exit, Fiber, Metric } from "effect"
import { dual } from "effect/Function"
import * as Classify from "./Classify.ts"
import { CircuitOpen } from "./Errors.ts"
import * as Metrics from "./Metrics.ts"

/**
 * @since 0.0.0
 * @category models
 */
export type State = "closed" | "open" | "half-open"

/**
 * @since 0.0.0
 * @category models
 */
export interface Options {
  /** Breaker name, used in logs, in the gauge's `breaker` attribute and in {@link CircuitOpen}. */
  readonly name: string
  /** Open after this many counted failures in a row. Default 5; `Infinity` disables. */
  readonly consecutiveFailures?: number | undefined
  /**
   * Also open when, over the last `windowSize` calls, the share of counted
   * failures reaches `threshold`, provided at least `minimumCalls` calls were
   * seen (so three failures out of three calls after a deploy do not count
   * as "100%"). Off by default.
   */
  readonly failureRatio?:
    | {
        readonly threshold: number
        readonly windowSize: number
        readonly minimumCalls: number
      }
    | undefined
  /** How long to stay open before probing. Default 30 seconds. */
  readonly openDuration?: Duration.Input | undefined
  /** Probes admitted at once while half-open. Default 1. */
  readonly halfOpenMaxProbes?: number | undefined
  /** Which failures count. Default {@link Classify.isTransient}. */
  readonly isFailure?: ((error: unknown) => boolean) | undefined
}

/**
 * @since 0.0.0
 * @category models
 */
export interface CircuitBreaker {
  readonly name: string
  /** Current state (see the module note on the lazy open -> half-open step). */
  readonly state: Effect.Effect<State>
  /** Runs `self` through the breaker. */
  readonly protect: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CircuitOpen, R>
}

const CLOSED = 0
const OPEN = 1
const HALF_OPEN = 2
const stateNames: ReadonlyArray<State> = ["closed", "open", "half-open"]

const positiveInteger = (name: string, field: string, value: number): number => {
  if (!(value === Infinity || (Number.isInteger(value) && value >= 1))) {
    throw new RangeError(`CircuitBreaker "${name}": ${field} must be an integer >= 1`)
  }
  return value
}

/**
 * Creates a circuit breaker (initially closed) and publishes its state gauge.
 *
 * @example
 * ```ts
 * const breaker = yield* CircuitBreaker.make({
 *   name: "inventory",
 *   consecutiveFailures: 5,
 *   failureRatio: { threshold: 0.5, windowSize: 20, minimumCalls: 10 },
 *   openDuration: "30 seconds",
 *   halfOpenMaxProbes: 1
 * })
 * const stock = yield* breaker.protect(getStock(sku))
 * ```
 *
 * @since 0.0.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<CircuitBreaker> =>
  Effect.suspend(() => {
    const breaker = makeUnsafe(options)
    return Effect.as(
      Metric.update(Metrics.circuitBreakerState(options.name), Metrics.stateValue.closed),
      breaker
    )
  })

/**
 * Creates a circuit breaker outside of an effect. The state gauge is first
 * written on the first transition.
 *
 * @since 0.0.0
 * @category constructors
 */
export const makeUnsafe = (options: Options): CircuitBreaker => {
  const name = options.name
  const consecutiveThreshold = positiveInteger(name, "consecutiveFailures", options.consecutiveFailures ?? 5)
  const maxProbes = positiveInteger(name, "halfOpenMaxProbes", options.halfOpenMaxProbes ?? 1)
  const openMillis = Duration.toMillis(Duration.fromInputUnsafe(options.openDuration ?? "30 seconds"))
  const isFailure = options.isFailure ?? Classify.isTransient
  const ratio = options.failureRatio
  if (ratio !== undefined) {
    positiveInteger(name, "failureRatio.windowSize", ratio.windowSize)
    positiveInteger(name, "failureRatio.minimumCalls", ratio.minimumCalls)
    if (!(ratio.threshold > 0 && ratio.threshold <= 1)) {
      throw new RangeError(`CircuitBreaker "${name}": failureRatio.threshold must be in (0, 1]`)
    }
    if (ratio.minimumCalls > ratio.windowSize) {
      throw new RangeError(`CircuitBreaker "${name}": failureRatio.minimumCalls must be <= windowSize`)
    }
  }

  // --- state, only touched in synchronous steps (see module note) ----------
  let state = CLOSED
  // Bumped on every transition; a result is only recorded if the call was
  // admitted in the current generation.
  let generation = 0
  let consecutive = 0
  let openUntil = 0
  let probes = 0
  // Count-based sliding window as a ring of 0/1 outcomes: O(1) per call and
  // a fixed footprint whatever the traffic.
  const window = ratio === undefined ? undefined : new Uint8Array(ratio.windowSize)
  let windowCount = 0
  let windowFailures = 0
  let windowIndex = 0

  const gauge = Metrics.circuitBreakerState(name)
  // Called in the synchronous step that changes the state: the gauge is
  // written right away (it cannot lag behind the state), the log is returned
  // for the caller to run.
  const transition = (to: number, reason: string): Effect.Effect<void> => {
    gauge.updateUnsafe(to, Fiber.getCurrent()!.context)
    const log = to === OPEN ? Effect.logWarning : Effect.logInfo
    return log(`circuit breaker ${stateNames[to]}`).pipe(
      Effect.annotateLogs({ breaker: name, state: stateNames[to], reason })
    )
  }

  const resetCounts = () => {
    consecutive = 0
    if (window !== undefined) {
      window.fill(0)
      windowCount = 0
      windowFailures = 0
      windowIndex = 0
    }
  }

  const open = (now: number, reason: string): Effect.Effect<void> => {
    state = OPEN
    generation++
    openUntil = now + openMillis
    probes = 0
    return transition(OPEN, reason)
  }

  const close = (): Effect.Effect<void> => {
    state = CLOSED
    generation++
    probes = 0
    resetCounts()
    return transition(CLOSED, "probe succeeded")
  }

  const record = (failed: boolean, now: number): Effect.Effect<void> | undefined => {
    consecutive = failed ? consecutive + 1 : 0
    if (window !== undefined) {
      if (windowCount === window.length) windowFailures -= window[windowIndex]
      else windowCount++
      window[windowIndex] = failed ? 1 : 0
      if (failed) windowFailures++
      windowIndex = windowIndex + 1 === window.length ? 0 : windowIndex + 1
    }
    if (!failed) return undefined
    if (consecutive >= consecutiveThreshold) {
      return open(now, `${consecutive} consecutive failures`)
    }
    if (
      ratio !== undefined &&
      windowCount >= ratio.minimumCalls &&
      windowFailures >= ratio.threshold * windowCount
    ) {
      return open(now, `failure ratio ${windowFailures}/${windowCount}`)
    }
    return undefined
  }

  const onExit = (admittedIn: number, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> | undefined => {
    if (admittedIn !== generation) return undefined
    if (Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)) {
      // No verdict; give the probe slot back so half-open cannot wedge.
      if (state === HALF_OPEN) probes--
      return undefined
    }
    const failed = Exit.isFailure(exit) && isFailure(Cause.squash(exit.cause))
    const now = Fiber.getCurrent()!.getRef(Clock.Clock).currentTimeMillisUnsafe()
    if (state === HALF_OPEN) return failed ? open(now, "probe failed") : close()
    return record(failed, now)
  }

  const reject = (now: number): Effect.Effect<never, CircuitOpen> =>
    Effect.fail(
      new CircuitOpen({
        breaker: name,
        state: state === OPEN ? "open" : "half-open",
        // Half-open and out of probes: the outcome of a probe in flight
        // decides, which can be any moment now.
        retryAfter: Duration.millis(state === OPEN ? openUntil - now : 0)
      })
    )

  // Closed: admission changes nothing, so it needs no uninterruptible region
  // (an interruption before the exit handler is installed loses nothing).
  const protectClosed = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    const admittedIn = generation
    return Effect.onExitPrimitive(self, (exit) => onExit(admittedIn, exit), true)
  }

  // Open / half-open: taking a probe slot must be paired with its release, so
  // slot and exit handler are set up in one uninterruptible step.
  const protectGuarded = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitOpen, R> =>
    Effect.uninterruptibleMask((restore): Effect.Effect<A, E | CircuitOpen, R> => {
      if (state === CLOSED) return protectClosed(restore(self))
      const now = Fiber.getCurrent()!.getRef(Clock.Clock).currentTimeMillisUnsafe()
      let entered: Effect.Effect<void> | undefined
      if (state === OPEN) {
        if (now < openUntil) return reject(now)
        state = HALF_OPEN
        generation++
        probes = 0
        entered = transition(HALF_OPEN, "open duration elapsed")
      }
      if (probes >= maxProbes)
        return entered === undefined ? reject(now) : Effect.andThen(entered, reject(now))
      probes++
      const run = protectClosed(restore(self))
      return entered === undefined ? run : Effect.andThen(entered, run)
    })

  const protect = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitOpen, R> =>
    Effect.suspend(() => (state === CLOSED ? protectClosed(self) : protectGuarded(self)))

  return {
    name,
    state: Effect.sync(() => stateNames[state]),
    protect
  }
}

/**
 * Runs `self` through `breaker`.
 *
 * @since 0.0.0
 * @category combinators
 */
export const withCircuitBreaker: {
  (breaker: CircuitBreaker): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CircuitOpen, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, breaker: CircuitBreaker): Effect.Effect<A, E | CircuitOpen, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, breaker: CircuitBreaker): Effect.Effect<A, E | CircuitOpen, R> =>
    breaker.protect(self)
)
