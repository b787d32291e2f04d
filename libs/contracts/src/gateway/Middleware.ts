/**
 * The middleware every `/v1` endpoint goes through, outermost first:
 *
 * 1. {@link LoadShedding}: a global limit of requests in flight; beyond it, 503 at once (no queue);
 * 2. {@link Authentication}: a JWT bearer token, which tells who the {@link Caller} is (401);
 * 3. {@link RateLimit}: a token bucket per caller (429);
 * 4. {@link RouteTimeout}: a time budget per operation (504).
 *
 * Shedding comes first so that an overloaded gateway spends nothing (not even a signature check)
 * on the requests it turns away; the rate limit needs the caller, so it follows authentication.
 * The declarations are the contract (errors, security scheme); the gateway implements them.
 */
import { Context } from "effect"
import { HttpApiMiddleware, HttpApiSecurity } from "effect/http-api"
import {
  GatewayTimeout,
  ServiceUnavailableResponse,
  TooManyRequestsResponse,
  UnauthorizedResponse
} from "./Errors.ts"

/** Who is calling: the subject of the verified token (the customer) and its scopes. */
export class Caller extends Context.Service<
  Caller,
  { readonly subject: string; readonly scopes: ReadonlySet<string> }
>()("gateway/Caller") {}

export class LoadShedding extends HttpApiMiddleware.Service<LoadShedding>()("gateway/LoadShedding", {
  error: ServiceUnavailableResponse
}) {}

/** Bearer JWT; a verifier that cannot fetch its keys answers 503 rather than blame the token. */
export class Authentication extends HttpApiMiddleware.Service<Authentication, { provides: Caller }>()(
  "gateway/Authentication",
  { security: { bearer: HttpApiSecurity.bearer }, error: [UnauthorizedResponse, ServiceUnavailableResponse] }
) {}

export class RateLimit extends HttpApiMiddleware.Service<RateLimit, { requires: Caller }>()(
  "gateway/RateLimit",
  { error: TooManyRequestsResponse }
) {}

export class RouteTimeout extends HttpApiMiddleware.Service<RouteTimeout>()("gateway/RouteTimeout", {
  error: GatewayTimeout
}) {}
