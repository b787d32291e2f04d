/**
 * Readiness: whether this instance should receive traffic. Dependency layers (the database
 * pool, downstream clients) register a check when they are built; the check set is run on
 * every `/health/ready`. Shutdown flips `draining` first, so readiness answers 503 from the
 * moment SIGTERM arrives while requests in flight still complete.
 */
import { Context, Duration, Effect, Layer } from "effect"

export interface ReadinessReport {
  readonly ready: boolean
  readonly draining: boolean
  readonly checks: Record<string, "up" | "down">
}

export class Readiness extends Context.Service<
  Readiness,
  {
    /** Adds a named check; it is `up` when the effect succeeds within the check timeout. */
    readonly register: (name: string, check: Effect.Effect<unknown, unknown>) => Effect.Effect<void>
    /** Marks the instance as shutting down: readiness answers 503 from now on. */
    readonly drain: Effect.Effect<void>
    /** Whether shutdown has begun; cheap enough to ask on every request. */
    readonly isDraining: () => boolean
    readonly report: Effect.Effect<ReadinessReport>
  }
>()("server/Readiness") {
  /** Each check gets 2 seconds before it counts as down. */
  static readonly layer = Layer.sync(Readiness, () => {
    const timeout = Duration.seconds(2)
    const checks = new Map<string, Effect.Effect<unknown, unknown>>()
    let draining = false
    const run = (check: Effect.Effect<unknown, unknown>) =>
      check.pipe(
        Effect.timeout(timeout),
        Effect.match({ onFailure: () => "down" as const, onSuccess: () => "up" as const })
      )
    return Readiness.of({
      register: (name, check) => Effect.sync(() => void checks.set(name, check)),
      drain: Effect.sync(() => {
        draining = true
      }),
      isDraining: () => draining,
      report: Effect.suspend(() =>
        Effect.forEach(
          checks,
          ([name, check]) => Effect.map(run(check), (status) => [name, status] as const),
          {
            concurrency: "unbounded"
          }
        )
      ).pipe(
        Effect.map((results) => {
          const report = Object.fromEntries(results)
          return {
            ready: !draining && results.every(([, status]) => status === "up"),
            draining,
            checks: report
          }
        })
      )
    })
  })
}
