/**
 * HTTP metrics with OpenTelemetry semantic-convention names and units, declared once. The
 * Prometheus exposition turns `http.server.request.duration` into
 * `http_server_request_duration_seconds`-style names; dashboards and alerts use those.
 */
import { Metric } from "effect"

/** The OpenTelemetry advice for HTTP duration buckets, in seconds. */
const durationBoundaries = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]

/** Duration of HTTP server requests, seconds; by method, route template and status. */
export const serverRequestDuration = Metric.histogram("http.server.request.duration", {
  description: "Duration of HTTP server requests in seconds",
  boundaries: durationBoundaries
})

/** Requests being handled right now. */
export const serverActiveRequests = Metric.gauge("http.server.active_requests", {
  description: "Number of active HTTP server requests"
})

/** Duration of HTTP client requests, seconds; by method, server address and status. */
export const clientRequestDuration = Metric.histogram("http.client.request.duration", {
  description: "Duration of HTTP client requests in seconds",
  boundaries: durationBoundaries
})
