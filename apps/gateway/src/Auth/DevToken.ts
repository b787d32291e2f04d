/**
 * Development tokens: HS256 JWTs the gateway accepts in its local configuration (no
 * `JWT_JWKS_URL`, and `JWT_SECRET`, `JWT_ISSUER`, `JWT_AUDIENCE` as given here or their
 * defaults). Used by `npm run token` and by tests; production tokens come from an identity
 * provider, never from this.
 */
import * as jose from "jose"
import { defaultAudience, defaultIssuer, developmentSecret } from "./JwtConfig.ts"

export interface DevTokenOptions {
  /** The caller: the customer id the token stands for. */
  readonly subject: string
  /** Space-separated in the `scope` claim, e.g. `["admin"]`. */
  readonly scopes?: ReadonlyArray<string> | undefined
  /** Lifetime, as jose reads it (`"1h"`, `"15m"`) or seconds. Default one hour. */
  readonly expiresIn?: string | number | undefined
  readonly secret?: string | undefined
  readonly issuer?: string | undefined
  readonly audience?: string | undefined
}

/** Signs a development token. */
export const signDevToken = (options: DevTokenOptions): Promise<string> => {
  const scopes = options.scopes ?? []
  return new jose.SignJWT(scopes.length > 0 ? { scope: scopes.join(" ") } : {})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(options.subject)
    .setIssuer(options.issuer ?? defaultIssuer)
    .setAudience(options.audience ?? defaultAudience)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? "1h")
    .sign(new TextEncoder().encode(options.secret ?? developmentSecret))
}
