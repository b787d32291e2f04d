/**
 * The time bounds of the hot paths: every downstream call (the attempt and the HTTP exchange),
 * the gateway's route budgets and its rate limit store, the outbox delivery. (The request timeout
 * of every service needs no child fiber at all: the kit interrupts the request's own fiber.)
 *
 * Why not `Effect.timeoutOrElse`: it races the effect against a sleep in two forked fibers. At
 * four or five bounds per proxied request that showed in the gateway's profile (`forkUnsafe`
 * under `raceAllFirst`). `node libs/server/bench/timeout.bench.ts` (an effect that completes on
 * the next turn, 32 at a time) on the 2-core development machine: `Effect.timeoutOrElse` adds
 * 3.4 us of CPU per call, this 1.4 us: one forked fiber and one timer. Same behaviour:
 * the effect runs in a child fiber with the caller's context; on time out it is interrupted,
 * and its finalizers have run before `orElse` does; interrupting the caller interrupts it. The
 * timer is the system's, so a fiber that runs on a clock of its own (tests' `TestClock`) gets
 * `Effect.timeoutOrElse`.
 */
import { Clock, Context, Duration, Effect, Fiber } from "effect"
import { dual } from "effect/Function"

/** The longest delay `setTimeout` takes (about 24.8 days); a longer one fires at once. */
export const maxTimerMillis = 2 ** 31 - 1

export const orElse: {
  <A2, E2, R2>(options: {
    readonly duration: Duration.Input
    readonly orElse: () => Effect.Effect<A2, E2, R2>
  }): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A | A2, E | E2, R | R2>
  <A, E, R, A2, E2, R2>(
    self: Effect.Effect<A, E, R>,
    options: { readonly duration: Duration.Input; readonly orElse: () => Effect.Effect<A2, E2, R2> }
  ): Effect.Effect<A | A2, E | E2, R | R2>
} = dual(
  2,
  <A, E, R, A2, E2, R2>(
    self: Effect.Effect<A, E, R>,
    options: { readonly duration: Duration.Input; readonly orElse: () => Effect.Effect<A2, E2, R2> }
  ): Effect.Effect<A | A2, E | E2, R | R2> => {
    const millis = Duration.toMillis(Duration.fromInputUnsafe(options.duration))
    return Effect.withFiber((parent) => {
      // A clock provided in place of the system's (TestClock, in tests) keeps Effect's own
      // timeout, which sleeps on that clock; so does a bound beyond what one `setTimeout` can
      // wait (about 24.8 days; longer would fire at once).
      if (Context.getOrUndefined(parent.context, Clock.Clock) !== undefined || !(millis <= maxTimerMillis)) {
        return Effect.timeoutOrElse(self, options)
      }
      return Effect.flatMap(Effect.forkChild(self, { startImmediately: true }), (fiber) => {
        const done = fiber.pollUnsafe()
        if (done !== undefined) return done
        return Effect.callback<A | A2, E | E2, R2>((resume) => {
          const timer = setTimeout(
            () => resume(Effect.andThen(Fiber.interrupt(fiber), options.orElse())),
            millis
          )
          fiber.addObserver((exit) => {
            clearTimeout(timer)
            resume(exit)
          })
          return Effect.andThen(
            Effect.sync(() => clearTimeout(timer)),
            Fiber.interrupt(fiber)
          )
        })
      })
    })
  }
)
