/** Requests the gateway turned away to protect itself, declared once, by reason. */
import { Metric } from "effect"

const rejected = (reason: "overloaded" | "rate_limited") =>
  Metric.counter("gateway.requests.rejected", {
    description: "Requests rejected by load shedding or rate limiting",
    attributes: { reason },
    incremental: true
  })

export const shed = rejected("overloaded")
export const rateLimited = rejected("rate_limited")
