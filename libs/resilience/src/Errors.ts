/**
 * The three ways a call to another service fails for reasons of the call rather than of what was
 * asked, as one typed mapping every caller shares (see `Downstream.call`). They are
 * `Schema.TaggedError`s with their HTTP status, so a service can answer them as they are.
 */
import { Duration, Schema } from "effect"

/**
 * The downstream could not be asked or did not answer usefully: its circuit is open, the
 * bulkhead is full, the connection failed, or it answered a transient status (408, 429, 5xx)
 * after the retries the policy allows. `retryAfter` is when trying again makes sense (the
 * breaker's remaining open time, the downstream's `Retry-After`, else one second).
 */
export class DownstreamUnavailable extends Schema.TaggedError<DownstreamUnavailable>()(
  "DownstreamUnavailable",
  {
    downstream: Schema.String,
    reason: Schema.Literals(["circuit_open", "bulkhead_full", "unreachable"]),
    retryAfter: Schema.Duration
  },
  { httpApiStatus: 503 }
) {
  override get message(): string {
    return `${this.downstream} is unavailable (${this.reason}); retry after ${Duration.format(this.retryAfter)}`
  }
}

/** The downstream did not answer within the per-attempt timeout (nor within the retries). */
export class DownstreamTimeout extends Schema.TaggedError<DownstreamTimeout>()(
  "DownstreamTimeout",
  { downstream: Schema.String },
  { httpApiStatus: 504 }
) {
  override get message(): string {
    return `${this.downstream} did not answer in time`
  }
}

/**
 * The exchange broke the contract: a request we could not encode, a status the contract does
 * not list (a 400 for a request we built), a body that does not decode. Repeating it cannot help;
 * it is a bug on one side.
 */
export class DownstreamMismatch extends Schema.TaggedError<DownstreamMismatch>()("DownstreamMismatch", {
  downstream: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.downstream}: ${this.detail}`
  }
}

/** What a call through a `Downstream` can fail with besides the downstream's own contract errors. */
export type CallFailure = DownstreamUnavailable | DownstreamTimeout | DownstreamMismatch
