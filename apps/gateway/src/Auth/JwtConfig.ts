/**
 * How bearer tokens are verified, from the environment.
 *
 * - `JWT_SECRET` set: HS256 tokens signed with it are accepted.
 * - `JWT_JWKS_URL` set: RS256 and ES256 tokens signed by a key of that JSON Web Key Set are
 *   accepted (production: the identity provider's keys).
 * - Neither set: HS256 with {@link developmentSecret}, so `npm start` works out of the box and
 *   `npm run token` can mint tokens; a warning is logged at start. Setting `JWT_JWKS_URL` alone
 *   turns the development secret off, so a production deployment never accepts tokens signed
 *   with a secret published in this repository.
 *
 * Algorithms are pinned per key source (HS256 only with a secret, RS256/ES256 only with the
 * JWKS), so `alg: none` and the HS/RS confusion attack never verify.
 */
import { Config, Duration, Option, Redacted, Schema } from "effect"

/** The development secret (public: it is in this file). Never accepted once JWKS is configured. */
export const developmentSecret = "acme-development-secret-not-for-production-use"

/** Default `iss` and `aud`, shared with the development token tool. */
export const defaultIssuer = "acme-dev"
export const defaultAudience = "acme-api"

export interface JwtSettings {
  readonly issuer: string
  readonly audience: string
  /** The HS256 secret, if HS256 is enabled. */
  readonly secret: Option.Option<Redacted.Redacted<string>>
  /** Whether {@link secret} is the development default (logged loudly at start). */
  readonly developmentSecret: boolean
  readonly jwksUrl: Option.Option<URL>
  /** Tolerance for `exp` and `nbf`: clocks of issuer and gateway are never exactly in step. */
  readonly clockSkew: Duration.Duration
  /** After a successful JWKS fetch, how long before an unknown `kid` may trigger another. */
  readonly jwksCooldown: Duration.Duration
  /** How long fetched keys are used before the set is fetched again. */
  readonly jwksCacheMaxAge: Duration.Duration
  readonly jwksTimeout: Duration.Duration
  /** How long a verified token is remembered (0 turns the cache off); see `Jwt.ts`. */
  readonly cacheTtl: Duration.Duration
}

/** RFC 7518 §3.2: an HS256 key must be at least as long as the hash, 256 bits. */
const Secret = Schema.Redacted(Schema.String.check(Schema.isMinLength(32)))

export const config: Config.Config<JwtSettings> = Config.all({
  issuer: Config.NonEmptyString("JWT_ISSUER").pipe(Config.withDefault(defaultIssuer)),
  audience: Config.NonEmptyString("JWT_AUDIENCE").pipe(Config.withDefault(defaultAudience)),
  secret: Config.option(Config.schema(Secret, "JWT_SECRET")),
  jwksUrl: Config.option(Config.URL("JWT_JWKS_URL")),
  clockSkew: Config.Duration("JWT_CLOCK_SKEW").pipe(Config.withDefault(Duration.seconds(30))),
  jwksCooldown: Config.Duration("JWT_JWKS_COOLDOWN").pipe(Config.withDefault(Duration.seconds(30))),
  jwksCacheMaxAge: Config.Duration("JWT_JWKS_CACHE_MAX_AGE").pipe(Config.withDefault(Duration.minutes(10))),
  jwksTimeout: Config.Duration("JWT_JWKS_TIMEOUT").pipe(Config.withDefault(Duration.seconds(5))),
  cacheTtl: Config.Duration("JWT_CACHE_TTL").pipe(Config.withDefault(Duration.minutes(1)))
}).pipe(
  Config.map((settings) => {
    const useDevelopmentSecret = Option.isNone(settings.secret) && Option.isNone(settings.jwksUrl)
    return {
      ...settings,
      secret: useDevelopmentSecret ? Option.some(Redacted.make(developmentSecret)) : settings.secret,
      developmentSecret: useDevelopmentSecret
    }
  })
)
