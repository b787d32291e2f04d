import { assert, describe, it } from "@effect/vitest"
import { Cause, Duration } from "effect"
import { HttpClientRequest } from "effect/http"
import { Classify, TimeoutError } from "../src/index.ts"
import { statusError, transportError } from "./fixtures.ts"

describe("Classify", () => {
  it("treats 408/429/502/503/504 as transient and every other status as permanent", () => {
    for (const status of [408, 429, 502, 503, 504]) {
      assert.isTrue(Classify.isTransient(statusError(status)), `${status}`)
      assert.isTrue(Classify.isTransient({ status }), `generic ${status}`)
    }
    for (const status of [400, 401, 403, 404, 409, 422, 500, 501]) {
      assert.isFalse(Classify.isTransient(statusError(status)), `${status}`)
      assert.isFalse(Classify.isTransient({ status }), `generic ${status}`)
    }
  })

  it("recognises connection refused / reset, unresolvable names and timeouts on the cause chain", () => {
    assert.isTrue(Classify.isTransient(transportError("ECONNREFUSED")))
    assert.isTrue(Classify.isTransient(transportError("ECONNRESET")))
    assert.isTrue(Classify.isTransient(transportError("UND_ERR_CONNECT_TIMEOUT")))
    assert.isTrue(Classify.isTransient(transportError("ENOTFOUND")))
    assert.isTrue(Classify.isTransient(transportError("EAI_AGAIN")))
    assert.isFalse(Classify.isTransient(transportError("CERT_HAS_EXPIRED")))
    assert.isTrue(Classify.isTransient(Object.assign(new Error("reset"), { code: "ECONNRESET" })))
    assert.isTrue(Classify.isTransient(new TimeoutError({ duration: Duration.seconds(1) })))
    assert.isTrue(Classify.isTransient(new Cause.TimeoutError()))
    assert.isFalse(Classify.isTransient(new Error("boom")))
    assert.isFalse(Classify.isTransient("boom"))
  })

  it("lets an error state its own transience through the marker", () => {
    assert.isTrue(Classify.isTransient({ [Classify.TransientTypeId]: true }))
    // The marker wins over the status.
    assert.isFalse(Classify.isTransient({ [Classify.TransientTypeId]: false, status: 503 }))
  })

  it("retries POST / PATCH only with an idempotency key", () => {
    const post = HttpClientRequest.post("http://payment.internal/charges")
    assert.isFalse(Classify.isRetryable(statusError(503, { request: post })))
    assert.isTrue(
      Classify.isRetryable(
        statusError(503, { request: HttpClientRequest.setHeader(post, "Idempotency-Key", "k1") })
      )
    )
    assert.isFalse(Classify.isRetryable({ status: 503 }, { method: "PATCH" }))
    assert.isTrue(Classify.isRetryable({ status: 503 }, { method: "PATCH", idempotencyKey: "k1" }))
    assert.isTrue(Classify.isRetryable({ status: 503 }, { method: "PUT" }))
    // The call site's key counts for an error that carries its own request.
    assert.isTrue(Classify.isRetryable(statusError(503, { request: post }), { idempotencyKey: "k2" }))
  })

  it("reads and parses Retry-After in both forms", () => {
    assert.strictEqual(Classify.retryAfterOf(statusError(503, { headers: { "retry-after": "7" } })), "7")
    assert.strictEqual(Classify.parseRetryAfter("7", 0), 7000)
    const now = Date.parse("2030-01-01T00:00:00Z")
    assert.strictEqual(Classify.parseRetryAfter("Tue, 01 Jan 2030 00:00:30 GMT", now), 30_000)
    assert.strictEqual(Classify.parseRetryAfter("Mon, 31 Dec 2029 00:00:00 GMT", now), 0)
    assert.isUndefined(Classify.parseRetryAfter("soon", now))
  })
})
