/**
 * Every error on the wire is an RFC 9457 problem (`application/problem+json`). Contract errors
 * are declared with `HttpApiError.Problem`, which gives them an HTTP status, a `type` URI that
 * tells them apart on the client, and a title. The service kit fills `instance`, `traceId` and
 * `requestId` on the way out, so every problem class declares them as optional members.
 */
import { Schema } from "effect"

/** The base of every problem `type` URI of this system. */
export const problemBase = "https://problems.acme.dev/"

/** The problem `type` URI for a slug, e.g. `problemType("out-of-stock")`. */
export const problemType = <const Slug extends string>(slug: Slug): `${typeof problemBase}${Slug}` =>
  `${problemBase}${slug}`

/** Members the service kit adds to every problem; spread into each problem's fields. */
export const problemFields = {
  traceId: Schema.optionalKey(Schema.String),
  requestId: Schema.optionalKey(Schema.String)
}
