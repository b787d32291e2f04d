// Sets __ENV.TOKENS (a JSON array of bearer tokens) unless it is set already; see compose.js.
import crypto from "k6/crypto"
import encoding from "k6/encoding"

const secret = __ENV.JWT_SECRET || "acme-development-secret-not-for-production-use"
const issuer = __ENV.JWT_ISSUER || "acme-dev"
const audience = __ENV.JWT_AUDIENCE || "acme-api"
const count = Number(__ENV.TOKEN_COUNT || 20)
// Longer than any scenario (soak runs 30 minutes by default).
const lifetimeSeconds = Number(__ENV.TOKEN_LIFETIME_SECONDS || 4 * 3600)

const base64url = (json) => encoding.b64encode(JSON.stringify(json), "rawurl")

/** An HS256 JWT for customer `subject`, as `npm run token -- <subject>` makes it. */
export const mint = (subject) => {
  const now = Math.floor(Date.now() / 1000)
  const signingInput = `${base64url({ alg: "HS256", typ: "JWT" })}.${base64url({
    sub: subject,
    iss: issuer,
    aud: audience,
    iat: now,
    exp: now + lifetimeSeconds
  })}`
  return `${signingInput}.${crypto.hmac("sha256", secret, signingInput, "base64rawurl")}`
}

if (!__ENV.TOKENS) {
  __ENV.TOKENS = JSON.stringify(Array.from({ length: count }, (_, i) => mint(`k6-customer-${i + 1}`)))
}
