/**
 * A downstream (another service, or a third party such as a card processor), built once from its
 * contract and a named policy. Layers, outermost first: metrics, bulkhead, retry, then per attempt
 * circuit breaker and timeout. The breaker sits inside the retry, unlike Effect's suggested
 * order, so that it sees every attempt, stops a call mid-retries once open, and probes with one
 * request; `README.md` explains each layer. The call's own failures reach the caller as one typed
 * set (`CallFailure`); the downstream's contract errors pass through unchanged.
 */
import { ServiceClient, Settings } from "@acme/pool"
import { Timeout } from "@acme/server"
import { Cause, Clock, Config, Context, Duration, Effect } from "effect"
import { Exit, Layer, Metric, Option, Schema, Stream } from "effect"
import type { Scope } from "effect"
import { HttpClient, HttpClientError } from "effect/http"
import type { HttpClientRequest } from "effect/http"
import { HttpApiClient, HttpApiError } from "effect/http-api"
import type { HttpApi, HttpApiGroup } from "effect/http-api"
import { CircuitBreaker } from "effect/persistence"
import * as Bulkhead from "./Bulkhead.ts"
import { type CallFailure, DownstreamMismatch, DownstreamTimeout, DownstreamUnavailable } from "./Errors.ts"
import { retryAfterMillis, type RetryPolicy } from "./RetryPolicy.ts"

export interface Policy {
  readonly timeout: Duration.Input // one attempt
  readonly retry: RetryPolicy
  readonly breaker: { readonly failures: number; readonly openDuration: Duration.Input }
  readonly bulkhead?: { readonly maxConcurrent: number; readonly maxQueue: number } | undefined
}

type GuardError = Cause.TimeoutError | CircuitBreaker.CircuitBreakerError | DownstreamUnavailable
type Problem = HttpApiError.BadRequestProblem | HttpApiError.InternalServerErrorProblem

/** The failures of the exchange itself that `call` turns into a `CallFailure`. */
export type ExchangeError = GuardError | HttpClientError.HttpClientError | Schema.SchemaError | Problem

export interface Downstream {
  readonly name: string
  readonly run: <A, E, R>(
    self: Effect.Effect<A, E, R>,
    options: { readonly idempotent: boolean }
  ) => Effect.Effect<A, Exclude<E, ExchangeError> | CallFailure, R>
  readonly state: Effect.Effect<CircuitBreaker.State["_tag"]>
}

/** The statuses Effect's `HttpClient.isTransientResponse` retries: 408, 429, 500, 502-504. */
const transientStatuses: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504])

const isTimeout = (error: unknown) => Cause.isTimeoutError(error) || ServiceClient.isTimeout(error)

const stateCodes = { Closed: 0, Open: 1, HalfOpen: 2 } as const

const isProblem = (error: unknown): error is Problem =>
  error instanceof HttpApiError.BadRequestProblem || error instanceof HttpApiError.InternalServerErrorProblem

type Outcome = "success" | "failure" | "timeout" | "circuit_open" | "bulkhead_full" | "interrupted"

const metricsOf = (downstream: string) => {
  const counter = (name: string, description: string, attributes: Record<string, string>) =>
    Metric.counter(name, { description, incremental: true, attributes: { downstream, ...attributes } })
  const outcomes = ["success", "failure", "timeout", "circuit_open", "bulkhead_full", "interrupted"] as const
  const call = (outcome: Outcome) => counter("resilience.call.count", "Calls to a downstream", { outcome })
  const calls = {} as Record<Outcome, Metric.Counter<number>>
  for (const outcome of outcomes) calls[outcome] = call(outcome)
  const boundaries = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
  return {
    calls,
    duration: Metric.histogram("resilience.call.duration", {
      description: "Seconds, retries included",
      boundaries,
      attributes: { downstream }
    }),
    attempts: counter("resilience.retry.attempts", "Attempts that reached the downstream", {}),
    retries: counter("resilience.retry.retries", "Attempts after the first", {}),
    state: Metric.gauge("resilience.circuit_breaker.state", {
      description: "0 closed, 1 open, 2 half-open",
      attributes: { breaker: downstream }
    })
  }
}

/**
 * A downstream that is not an HTTP service (a card processor's SDK). `isTransient` says which of
 * its errors another attempt may cure; HTTP and timeout failures always are.
 */
export const make = Effect.fnUntraced(function* (
  options: Policy & {
    readonly name: string
    readonly isTransient?: ((error: unknown) => boolean) | undefined
  }
) {
  const { name, retry } = options
  const isTransient = (error: unknown) =>
    HttpClient.isTransientError(error) || (options.isTransient?.(error) ?? false)
  const timeout = Duration.fromInputUnsafe(options.timeout)
  const timedOut = () => Effect.fail(new Cause.TimeoutError(`No answer within ${Duration.format(timeout)}`))
  const metrics = metricsOf(name)
  const stores = yield* Layer.build(CircuitBreaker.layerStoreMemory())
  const store = Context.get(stores, CircuitBreaker.CircuitBreakerStore)
  const breaker = yield* CircuitBreaker.make({
    tripPolicy: CircuitBreaker.consecutive(options.breaker.failures),
    openDuration: options.breaker.openDuration
  }).pipe(Effect.provideService(CircuitBreaker.CircuitBreakerStore, store))
  yield* Metric.update(metrics.state, 0)
  // Every series is scraped from the start (at 0): a dashboard's rate() has one before the first retry.
  for (const counter of [metrics.attempts, metrics.retries, ...Object.values(metrics.calls)])
    yield* Metric.update(counter, 0)
  const log = (t: CircuitBreaker.Transition) =>
    (t.to === "Open" ? Effect.logWarning : Effect.logInfo)(`circuit ${name}: ${t.from} -> ${t.to}`)
  yield* breaker.transitions.pipe(
    Stream.runForEach((t) => Effect.andThen(Metric.update(metrics.state, stateCodes[t.to]), log(t))),
    Effect.forkScoped({ startImmediately: true })
  )
  const classify = (exit: Exit.Exit<unknown, unknown>): CircuitBreaker.Outcome => {
    if (Exit.isSuccess(exit)) return CircuitBreaker.success
    const error = Cause.findErrorOption(exit.cause)
    if (Option.isNone(error)) return CircuitBreaker.ignored
    // A downstream answering 404 or 409 is up: only transient failures count against it.
    return isTransient(error.value) ? CircuitBreaker.failure() : CircuitBreaker.success
  }
  const bulkhead = options.bulkhead === undefined ? undefined : Bulkhead.make(options.bulkhead)
  const full = Effect.fail(
    new DownstreamUnavailable({ downstream: name, reason: "bulkhead_full", retryAfter: Duration.seconds(1) })
  )

  const outcomeOf = (exit: Exit.Exit<unknown, unknown>): Outcome => {
    if (Exit.isSuccess(exit)) return "success"
    const error = Cause.findErrorOption(exit.cause)
    if (Option.isNone(error)) return Cause.hasInterruptsOnly(exit.cause) ? "interrupted" : "failure"
    const failure = toFailure(error.value)
    if (failure instanceof DownstreamTimeout) return "timeout"
    return failure instanceof DownstreamUnavailable && failure.reason !== "unreachable"
      ? failure.reason
      : "failure"
  }

  /** The layers, without mapping the failures: what the HTTP transport is wrapped in. */
  const guard = <A, E, R>(
    self: Effect.Effect<A, E, R>,
    idempotent: boolean
  ): Effect.Effect<A, E | GuardError, R> =>
    Effect.withFiber((fiber) => {
      const clock = fiber.getRef(Clock.Clock)
      const started = clock.monotonicTimeNanosUnsafe()
      let attempts = 0
      const counted = Effect.andThen(
        Effect.sync(() => attempts++),
        self
      )
      const attempt = breaker.execute(Timeout.orElse(counted, { duration: timeout, orElse: timedOut }), {
        key: name,
        classify
      })
      const retried: typeof attempt =
        idempotent && retry.maxAttempts > 1
          ? Effect.retry(attempt, { schedule: retry.schedule, while: isTransient })
          : attempt
      return Effect.onExitPrimitive(
        bulkhead === undefined ? retried : bulkhead(retried, full),
        (exit) => {
          const seconds = Number(clock.monotonicTimeNanosUnsafe() - started) / 1e9
          metrics.calls[outcomeOf(exit)].updateUnsafe(1, fiber.context)
          metrics.duration.updateUnsafe(seconds, fiber.context)
          if (attempts > 0) metrics.attempts.updateUnsafe(attempts, fiber.context)
          if (attempts > 1) metrics.retries.updateUnsafe(attempts - 1, fiber.context)
          return undefined
        },
        true
      )
    })

  /** The single mapping of the exchange's failures; contract errors are returned as they are. */
  const toFailure = (error: unknown): CallFailure | undefined => {
    if (error instanceof DownstreamUnavailable) return error
    if (error instanceof CircuitBreaker.CircuitBreakerError) {
      const retryAfter = error.reason._tag === "CircuitOpen" ? error.reason.retryAfter : Duration.seconds(1)
      return new DownstreamUnavailable({ downstream: name, reason: "circuit_open", retryAfter })
    }
    if (isTimeout(error)) return new DownstreamTimeout({ downstream: name })
    if (isTransient(error)) {
      const retryAfter = Duration.millis(retryAfterMillis(error, Date.now()) ?? 1000)
      return new DownstreamUnavailable({ downstream: name, reason: "unreachable", retryAfter })
    }
    const mismatch =
      HttpClientError.isHttpClientError(error) || Schema.isSchemaError(error) || isProblem(error)
    return mismatch ? new DownstreamMismatch({ downstream: name, message: error.message }) : undefined
  }

  const mapFailures = <A, E, R>(self: Effect.Effect<A, E, R>) =>
    Effect.catch(self, (error) => Effect.fail(toFailure(error) ?? (error as Exclude<E, ExchangeError>)))

  const downstream: Downstream = {
    name,
    run: (self, { idempotent }) => mapFailures(guard(self, idempotent)),
    state: Effect.map(Effect.orDie(breaker.state(name)), (state) => state._tag)
  }
  return { downstream, guard, mapFailures }
})

/** The timeout and breaker of the downstream `NAME`: `NAME_TIMEOUT` and `CIRCUIT_BREAKER_*`. */
export const settings = (name: string, timeout: Duration.Input): Config.Config<Omit<Policy, "retry">> =>
  Config.all({
    timeout: Settings.positiveDuration(`${name}_TIMEOUT`, timeout),
    breaker: Config.all({
      failures: Settings.boundedInt("CIRCUIT_BREAKER_FAILURES", 1, 1000, 5),
      openDuration: Settings.positiveDuration("CIRCUIT_BREAKER_OPEN_DURATION", "10 seconds")
    })
  })

/** Whether repeating `request` is safe: not a POST or PATCH, or one with an `Idempotency-Key`. */
export const isIdempotent = (request: HttpClientRequest.HttpClientRequest): boolean =>
  (request.method !== "POST" && request.method !== "PATCH") ||
  (request.headers["idempotency-key"] ?? "") !== ""

export interface Http<Groups extends HttpApiGroup.Constraint> extends Downstream {
  /** Calls the client derived from the contract; retried only when the request is idempotent. */
  readonly call: <A, E, R>(
    f: (client: HttpApiClient.Client<Groups, GuardError>) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, Exclude<E, ExchangeError> | CallFailure, R>
  /** The same client without the policy, for readiness probes that must see the real state. */
  readonly direct: HttpApiClient.Client<Groups>
}

export type ForApi<Api extends HttpApi.Constraint> =
  Api extends HttpApi.HttpApi<infer _Id, infer Groups> ? Http<Groups> : never

/**
 * Builds an HTTP downstream once from its contract, over the `HttpClient` in context (the pooled
 * transport of `@acme/pool` `ServiceClient`), e.g.
 * `Downstream.client(InventoryApi, { name: "inventory", baseUrl, ...policy })`.
 */
export const client = <ApiId extends string, Groups extends HttpApiGroup.Constraint>(
  api: HttpApi.HttpApi<ApiId, Groups>,
  options: Policy & { readonly name: string; readonly baseUrl: URL | string }
): Effect.Effect<
  Http<Groups>,
  never,
  HttpClient.HttpClient | HttpApiGroup.MiddlewareClient<Groups> | Scope.Scope
> =>
  Effect.gen(function* () {
    const { downstream, guard, mapFailures } = yield* make(options)
    const transport = yield* HttpClient.HttpClient
    // A transient status becomes a failure inside the attempt, so that the breaker and the retry
    // see it; after the last attempt it is mapped like any other transient failure.
    const guarded = transport.pipe(
      HttpClient.filterStatus((status) => !transientStatuses.has(status)),
      HttpClient.transform((response, request) => guard(response, isIdempotent(request)))
    )
    const client = yield* HttpApiClient.makeWith(api, { httpClient: guarded, baseUrl: options.baseUrl })
    const direct = yield* HttpApiClient.makeWith(api, { httpClient: transport, baseUrl: options.baseUrl })
    return {
      ...downstream,
      call: (f) => mapFailures(f(client as HttpApiClient.Client<Groups, GuardError>)),
      direct: direct as HttpApiClient.Client<Groups>
    } satisfies Http<Groups>
  })
