/**
 * The failures of a call itself (as opposed to the downstream's contract errors), one typed set
 * shared by every caller. `Schema.TaggedError`s with their HTTP status, matched by type.
 */
import { Duration, Schema } from "effect"

/**
 * Circuit open, bulkhead full, connection failed, or a transient status (408, 429, 5xx) after the
 * retries. `retryAfter`: the breaker's remaining open time, the `Retry-After`, else one second.
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

/** No answer within the per-attempt timeout (nor the transport's), after the retries. */
export class DownstreamTimeout extends Schema.TaggedError<DownstreamTimeout>()(
  "DownstreamTimeout",
  { downstream: Schema.String },
  { httpApiStatus: 504 }
) {
  override get message(): string {
    return `${this.downstream} did not answer in time`
  }
}

/** The exchange broke the contract (a status or body it does not describe): a bug, not retried. */
export class DownstreamMismatch extends Schema.TaggedError<DownstreamMismatch>()("DownstreamMismatch", {
  downstream: Schema.String,
  message: Schema.String
}) {}

export type CallFailure = DownstreamUnavailable | DownstreamTimeout | DownstreamMismatch
