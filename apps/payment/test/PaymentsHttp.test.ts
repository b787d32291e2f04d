/**
 * The payment contract served by the service kit and called through the client derived from
 * it: every endpoint, every error status, and problem+json answers for bad input.
 */
import { PaymentApi, ProcessorUnavailable } from "@acme/contracts/payment"
import { TestServer } from "@acme/testing"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { HttpApiClient } from "effect/http-api"
import { hashToken } from "../src/Payments/Payments.ts"
import { PaymentsHttp } from "../src/Payments/PaymentsHttp.ts"
import { PaymentsRepo } from "../src/Payments/PaymentsRepo.ts"
import { appLayer, calls, newId, request, simulate } from "./fixtures.ts"

const server = (options: Parameters<typeof appLayer>[0]) =>
  TestServer.layer({ api: PaymentApi, handlers: PaymentsHttp }).pipe(Layer.provideMerge(appLayer(options)))

/** Sends a raw request body to `POST /payments`; the status and the problem it answers. */
const postRaw = (body: string) =>
  Effect.gen(function* () {
    const response = yield* HttpClient.execute(
      HttpClientRequest.post("/payments").pipe(HttpClientRequest.bodyText(body, "application/json"))
    )
    return {
      status: response.status,
      contentType: response.headers["content-type"],
      problem: (yield* response.json) as { readonly detail?: string; readonly status?: number }
    }
  })

const valid = () => ({ paymentId: newId(), amount: { amount: 1000, currency: "EUR" }, token: "tok_visa" })

describe("payments over HTTP", () => {
  layer(server({ simulation: { amountLimit: 100_000 }, env: { IN_FLIGHT_WAIT: "200 millis" } }), {
    excludeTestServices: true
  })("through the derived client", (it) => {
    it.effect("authorize 201, get 200, capture 200, void (refund) 200", () =>
      Effect.gen(function* () {
        const client = yield* HttpApiClient.make(PaymentApi)
        const body = request()
        const authorized = yield* client.payments.authorize({ payload: body })
        assert.strictEqual(authorized.status, "AUTHORIZED")
        assert.deepStrictEqual(authorized.amount, body.amount)
        assert.deepStrictEqual(yield* client.payments.authorize({ payload: body }), authorized)
        assert.deepStrictEqual(yield* client.payments.get({ params: { id: body.paymentId } }), authorized)
        const captured = yield* client.payments.capture({ params: { id: body.paymentId } })
        assert.strictEqual(captured.status, "CAPTURED")
        const refunded = yield* client.payments.void({ params: { id: body.paymentId } })
        assert.strictEqual(refunded.status, "REFUNDED")

        const voided = request()
        yield* client.payments.authorize({ payload: voided })
        assert.strictEqual(
          (yield* client.payments.void({ params: { id: voided.paymentId } })).status,
          "VOIDED"
        )

        const raw = yield* HttpClient.execute(
          HttpClientRequest.post("/payments").pipe(HttpClientRequest.bodyJsonUnsafe(request()))
        )
        assert.strictEqual(raw.status, 201)
      })
    )

    it.effect("declines answer 402 with the reason: test tokens, unknown tokens, the amount limit", () =>
      Effect.gen(function* () {
        const client = yield* HttpApiClient.make(PaymentApi)
        const declined = (payload: ReturnType<typeof request>) =>
          Effect.map(Effect.flip(client.payments.authorize({ payload })), (error) =>
            error._tag === "PaymentDeclined" ? [error.status, error.reason] : [error._tag]
          )
        assert.deepStrictEqual(yield* declined(request({ token: "tok_decline" })), [402, "card_declined"])
        assert.deepStrictEqual(yield* declined(request({ token: "tok_insufficient_funds" })), [
          402,
          "insufficient_funds"
        ])
        assert.deepStrictEqual(yield* declined(request({ token: "tok_unknown" })), [402, "invalid_token"])
        const large = request({ amount: { amount: 100_001, currency: "EUR" } })
        assert.deepStrictEqual(yield* declined(large), [402, "amount_too_large"])
        assert.deepStrictEqual(yield* declined(large), [402, "amount_too_large"])
        const stored = yield* client.payments.get({ params: { id: large.paymentId } })
        assert.strictEqual(stored.status, "DECLINED")
        assert.strictEqual(stored.declineReason, "amount_too_large")
      })
    )

    it.effect("404 for an unknown payment on get, capture and void", () =>
      Effect.gen(function* () {
        const client = yield* HttpApiClient.make(PaymentApi)
        const id = newId()
        for (const call of [
          client.payments.get({ params: { id } }),
          client.payments.capture({ params: { id } }),
          client.payments.void({ params: { id } })
        ]) {
          const error = yield* Effect.flip(call)
          assert.strictEqual(error._tag, "PaymentNotFound")
          if (error._tag === "PaymentNotFound") {
            assert.strictEqual(error.status, 404)
            assert.strictEqual(error.paymentId, id)
          }
        }
      })
    )

    it.effect("409: mismatched repeat, illegal transition (naming the state), operation in progress", () =>
      Effect.gen(function* () {
        const client = yield* HttpApiClient.make(PaymentApi)
        const body = request()
        yield* client.payments.authorize({ payload: body })
        const mismatch = yield* Effect.flip(
          client.payments.authorize({ payload: { ...body, amount: { amount: 1, currency: "EUR" } } })
        )
        assert.strictEqual(mismatch._tag, "PaymentMismatch")
        if (mismatch._tag === "PaymentMismatch") assert.strictEqual(mismatch.status, 409)

        yield* client.payments.void({ params: { id: body.paymentId } })
        const illegal = yield* Effect.flip(client.payments.capture({ params: { id: body.paymentId } }))
        assert.strictEqual(illegal._tag, "InvalidPaymentState")
        if (illegal._tag === "InvalidPaymentState") {
          assert.strictEqual(illegal.status, 409)
          assert.strictEqual(illegal.currentState, "VOIDED")
          assert.include(illegal.detail ?? "", "VOIDED")
        }

        const declined = request({ token: "tok_decline" })
        yield* Effect.flip(client.payments.authorize({ payload: declined }))
        const voidDeclined = yield* Effect.flip(client.payments.void({ params: { id: declined.paymentId } }))
        assert.strictEqual(voidDeclined._tag, "InvalidPaymentState")

        // An authorization in flight elsewhere (its claim is fresh): the duplicate waits, then 409.
        const inFlight = request()
        yield* PaymentsRepo.use((repo) =>
          repo.insertPending({
            id: inFlight.paymentId,
            amount: inFlight.amount,
            tokenHash: hashToken(inFlight.token),
            claimToken: crypto.randomUUID(),
            now: new Date()
          })
        )
        const inProgress = yield* Effect.flip(client.payments.authorize({ payload: inFlight }))
        assert.strictEqual(inProgress._tag, "PaymentInProgress")
        if (inProgress._tag === "PaymentInProgress") assert.strictEqual(inProgress.status, 409)
        const pendingCapture = yield* Effect.flip(
          client.payments.capture({ params: { id: inFlight.paymentId } })
        )
        assert.strictEqual(
          pendingCapture._tag === "InvalidPaymentState" && pendingCapture.currentState,
          "PENDING"
        )
      })
    )

    it.effect("bad input answers 400 problem+json naming the field", () =>
      Effect.gen(function* () {
        const cases: ReadonlyArray<readonly [string, unknown, string]> = [
          [
            "negative amount",
            { ...valid(), amount: { amount: -5, currency: "EUR" } },
            "payload.amount.amount"
          ],
          ["zero amount", { ...valid(), amount: { amount: 0, currency: "EUR" } }, "payload.amount.amount"],
          [
            "float amount",
            { ...valid(), amount: { amount: 10.5, currency: "EUR" } },
            "payload.amount.amount"
          ],
          [
            "string amount",
            { ...valid(), amount: { amount: "10", currency: "EUR" } },
            "payload.amount.amount"
          ],
          [
            "bad currency",
            { ...valid(), amount: { amount: 10, currency: "eur" } },
            "payload.amount.currency"
          ],
          ["missing token", { paymentId: newId(), amount: { amount: 10, currency: "EUR" } }, "payload.token"],
          ["empty token", { ...valid(), token: "" }, "payload.token"],
          ["bad payment id", { ...valid(), paymentId: "order-1" }, "payload.paymentId"]
        ]
        for (const [name, body, field] of cases) {
          const answer = yield* postRaw(JSON.stringify(body))
          assert.strictEqual(answer.status, 400, name)
          assert.strictEqual(answer.contentType, "application/problem+json", name)
          assert.include(answer.problem.detail ?? "", field, name)
        }
        const malformed = yield* postRaw("{ not json")
        assert.strictEqual(malformed.status, 400)
        assert.strictEqual(malformed.contentType, "application/problem+json")
        assert.include(malformed.problem.detail ?? "", "payload")

        const badId = yield* HttpClient.get("/payments/not-a-uuid")
        assert.strictEqual(badId.status, 400)
        assert.include(((yield* badId.json) as { detail: string }).detail, "params.id")
      })
    )
  })

  layer(server({ simulation: { errorRate: 0 }, env: { CIRCUIT_BREAKER_FAILURES: "1" } }), {
    excludeTestServices: true
  })("with the processor failing", (it) => {
    it.effect("503 with Retry-After; while the breaker is open calls fail fast without the processor", () =>
      Effect.gen(function* () {
        const client = yield* HttpApiClient.make(PaymentApi)
        const body = request()
        yield* client.payments.authorize({ payload: body })
        yield* simulate({ errorRate: 1 })

        const capture = yield* Effect.flip(client.payments.capture({ params: { id: body.paymentId } }))
        assert.instanceOf(capture, ProcessorUnavailable)
        const before = yield* calls
        const voided = yield* Effect.flip(client.payments.void({ params: { id: body.paymentId } }))
        assert.instanceOf(voided, ProcessorUnavailable)
        const authorize = yield* Effect.flip(client.payments.authorize({ payload: request() }))
        assert.instanceOf(authorize, ProcessorUnavailable)
        if (authorize instanceof ProcessorUnavailable) {
          assert.strictEqual(authorize.status, 503)
          assert.isAtLeast(authorize.retryAfterSeconds, 1)
        }
        assert.deepStrictEqual(yield* calls, before)
        assert.strictEqual(
          (yield* client.payments.get({ params: { id: body.paymentId } })).status,
          "AUTHORIZED"
        )

        const raw = yield* HttpClient.execute(HttpClientRequest.post(`/payments/${body.paymentId}/capture`))
        assert.strictEqual(raw.status, 503)
        assert.strictEqual(raw.headers["content-type"], "application/problem+json")
        const retryAfter = Number(raw.headers["retry-after"])
        assert.isTrue(retryAfter >= 1 && retryAfter <= 10, `retry-after: ${raw.headers["retry-after"]}`)
        const problem = (yield* raw.json) as { readonly type: string; readonly retryAfterSeconds: number }
        assert.strictEqual(problem.type, "https://problems.acme.dev/processor-unavailable")
        assert.strictEqual(problem.retryAfterSeconds, retryAfter)
      })
    )
  })
})
