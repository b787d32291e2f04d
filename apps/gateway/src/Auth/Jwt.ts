/**
 * Bearer token verification with `jose`. A token is accepted when:
 * - its `alg` is allowed for a configured key source: HS256 with the secret, RS256 or ES256 with
 *   the JWKS (anything else, `none` included, is refused before any key is looked at);
 * - its signature verifies with that source's key (the JWKS is cached; an unknown `kid` fetches
 *   it again, at most once per cooldown, so rotated keys are picked up and a flood of made-up
 *   `kid`s cannot hammer the identity provider);
 * - `exp` is present and not passed, `nbf` (if present) is reached, both with the clock skew;
 * - `iss` and `aud` are the configured ones;
 * - `sub` is a valid customer id (it is the customer id at the order service).
 *
 * A JWKS that cannot be fetched is not the token's fault: that is a 503, not a 401. Verified
 * tokens are remembered for a short while (`JWT_CACHE_TTL`, never past `exp`), so a caller's
 * requests do not each pay for a signature check.
 */
import { CustomerId } from "@acme/contracts/order"
import { ServiceUnavailable, Unauthorized } from "@acme/contracts/gateway"
import { Context, Duration, Effect, Layer, Option, Redacted, Schema } from "effect"
import * as jose from "jose"
import * as JwtConfig from "./JwtConfig.ts"

/** What a verified token says about its caller. */
export interface Claims {
  readonly subject: string
  readonly scopes: ReadonlySet<string>
}

const missing = new Unauthorized({ detail: "Missing bearer token" })
const invalid = (detail: string) => new Unauthorized({ error: "invalid_token", detail })

const isCustomerId = Schema.is(CustomerId)

const maxCachedTokens = 10_000
const maxCachedTokenLength = 4096

/** What a client is told for each way a token can fail (never the raw library message). */
const tokenFailure = (error: unknown): Unauthorized | undefined => {
  if (error instanceof jose.errors.JWTExpired) return invalid("The token has expired")
  if (error instanceof jose.errors.JWTClaimValidationFailed) {
    if (error.reason === "missing") return invalid(`The token has no ${error.claim} claim`)
    switch (error.claim) {
      case "nbf":
        return invalid("The token is not valid yet")
      case "iss":
        return invalid("The token was issued by an issuer this API does not trust")
      case "aud":
        return invalid("The token is not meant for this API (audience)")
      default:
        return invalid(`The token's ${error.claim} claim is invalid`)
    }
  }
  if (error instanceof jose.errors.JWSSignatureVerificationFailed)
    return invalid("The token's signature is invalid")
  if (error instanceof jose.errors.JOSEAlgNotAllowed) return invalid("The token's algorithm is not accepted")
  if (error instanceof jose.errors.JWKSNoMatchingKey)
    return invalid("The token is not signed by a trusted key")
  if (error instanceof jose.errors.JWKSMultipleMatchingKeys) return invalid("The token's key is ambiguous")
  if (
    error instanceof jose.errors.JWSInvalid ||
    error instanceof jose.errors.JWTInvalid ||
    error instanceof jose.errors.JOSENotSupported
  ) {
    return invalid("The token is malformed")
  }
  return undefined
}

/** The identity provider's key set could not be had (timeout, refused, not a key set). */
const keysUnavailable = new ServiceUnavailable({
  reason: "dependency_unavailable",
  retryAfterSeconds: 5,
  detail: "Tokens cannot be verified right now"
})

export class JwtVerifier extends Context.Service<
  JwtVerifier,
  {
    /** Verifies a bearer token (the empty string when none was sent). */
    readonly verify: (token: string) => Effect.Effect<Claims, Unauthorized | ServiceUnavailable>
  }
>()("gateway/JwtVerifier") {
  static readonly layer = Layer.effect(
    JwtVerifier,
    Effect.gen(function* () {
      const settings = yield* JwtConfig.config
      return yield* make(settings)
    })
  )
}

/** The verifier for explicit settings (tests build several). */
export const make = Effect.fnUntraced(function* (settings: JwtConfig.JwtSettings) {
  if (settings.developmentSecret) {
    yield* Effect.logWarning(
      "JWT_SECRET and JWT_JWKS_URL are not set: accepting HS256 tokens signed with the PUBLIC " +
        "development secret. Anyone can mint tokens. Set JWT_JWKS_URL (or JWT_SECRET) in any real deployment."
    )
  }
  const secret = Option.getOrUndefined(settings.secret)
  const hmacKey =
    secret !== undefined
      ? yield* Effect.promise(() =>
          crypto.subtle.importKey(
            "raw",
            new TextEncoder().encode(Redacted.value(secret)),
            { name: "HMAC", hash: "SHA-256" },
            false,
            ["verify"]
          )
        )
      : undefined
  const jwksUrl = Option.getOrUndefined(settings.jwksUrl)
  const jwks =
    jwksUrl !== undefined
      ? jose.createRemoteJWKSet(jwksUrl, {
          cooldownDuration: Duration.toMillis(settings.jwksCooldown),
          cacheMaxAge: Duration.toMillis(settings.jwksCacheMaxAge),
          timeoutDuration: Duration.toMillis(settings.jwksTimeout)
        })
      : undefined
  const options = {
    issuer: settings.issuer,
    audience: settings.audience,
    clockTolerance: Duration.toSeconds(settings.clockSkew),
    requiredClaims: ["exp", "sub"]
  }

  const claimsOf = (payload: jose.JWTPayload): Effect.Effect<Claims, Unauthorized> => {
    const subject = payload.sub
    if (subject === undefined || !isCustomerId(subject))
      return Effect.fail(invalid("The token's subject is invalid"))
    const scope = payload["scope"]
    if (scope !== undefined && typeof scope !== "string")
      return Effect.fail(invalid("The token's scope is invalid"))
    return Effect.succeed({
      subject,
      scopes: new Set(scope === undefined ? [] : scope.split(" ").filter(Boolean))
    })
  }

  /**
   * Runs a verification. A failure that is not about the token is the key source's: with the
   * JWKS, its fetch (503, the identity provider is down); with the secret, a bug (a defect, 500).
   */
  const run = (
    source: "secret" | "jwks",
    verify: () => Promise<jose.JWTVerifyResult>
  ): Effect.Effect<jose.JWTVerifyResult, Unauthorized | ServiceUnavailable> =>
    Effect.tryPromise({ try: verify, catch: (error) => error }).pipe(
      Effect.catch((error): Effect.Effect<never, Unauthorized | ServiceUnavailable> => {
        const failure = tokenFailure(error)
        if (failure !== undefined) return Effect.fail(failure)
        if (source === "jwks") {
          return Effect.andThen(Effect.logWarning("JWKS unavailable", error), Effect.fail(keysUnavailable))
        }
        return Effect.die(error)
      })
    )

  const check = (token: string): Effect.Effect<jose.JWTVerifyResult, Unauthorized | ServiceUnavailable> => {
    let alg: unknown
    try {
      alg = jose.decodeProtectedHeader(token).alg
    } catch {
      return Effect.fail(invalid("The token is malformed"))
    }
    if (alg === "HS256" && hmacKey !== undefined) {
      return run("secret", () => jose.jwtVerify(token, hmacKey, { ...options, algorithms: ["HS256"] }))
    }
    if ((alg === "RS256" || alg === "ES256") && jwks !== undefined) {
      return run("jwks", () => jose.jwtVerify(token, jwks, { ...options, algorithms: ["RS256", "ES256"] }))
    }
    return Effect.fail(invalid("The token's algorithm is not accepted"))
  }

  /**
   * Tokens verified lately, with their claims, so that a caller's every request does not pay for
   * a signature check. An entry lives `JWT_CACHE_TTL` at most and never past the token's `exp`;
   * the TTL bounds how long a token stays accepted after its key is withdrawn from the JWKS.
   * Bounded in number (oldest out) and in token size, so memory cannot be run up.
   */
  const cacheTtl = Duration.toMillis(settings.cacheTtl)
  const cache = new Map<string, { readonly claims: Claims; readonly until: number }>()
  const remember = (token: string, claims: Claims, exp: number | undefined, now: number) => {
    if (cacheTtl <= 0 || token.length > maxCachedTokenLength) return
    if (cache.size >= maxCachedTokens) cache.delete(cache.keys().next().value!)
    cache.set(token, { claims, until: Math.min(now + cacheTtl, (exp ?? 0) * 1000) })
  }

  const verify = (token: string): Effect.Effect<Claims, Unauthorized | ServiceUnavailable> => {
    if (token === "") return Effect.fail(missing)
    return Effect.clockWith((clock) => {
      const now = clock.currentTimeMillisUnsafe()
      const cached = cache.get(token)
      if (cached !== undefined) {
        if (cached.until > now) return Effect.succeed(cached.claims)
        cache.delete(token)
      }
      return check(token).pipe(
        Effect.flatMap(({ payload }) =>
          Effect.tap(claimsOf(payload), (claims) =>
            Effect.sync(() => remember(token, claims, payload.exp, now))
          )
        )
      )
    })
  }

  return JwtVerifier.of({ verify })
})
