/**
 * Token verification on its own (no HTTP): the key sources and their pinned algorithms, the JWKS
 * cache and its refetch on an unknown `kid`, and the clock skew. The HTTP behaviour of each
 * failure (401 + challenge) is in `Api.test.ts`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Option, Redacted } from "effect"
import * as jose from "jose"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { make } from "../src/Auth/Jwt.ts"
import type { JwtSettings } from "../src/Auth/JwtConfig.ts"
import { defaultAudience, defaultIssuer } from "../src/Auth/JwtConfig.ts"
import { hs256, signed } from "./support.ts"

const secret = "a-test-secret-that-is-long-enough-for-hs256"

const settings = (overrides: Partial<JwtSettings> = {}): JwtSettings => ({
  issuer: defaultIssuer,
  audience: defaultAudience,
  secret: Option.none(),
  developmentSecret: false,
  jwksUrl: Option.none(),
  clockSkew: Duration.seconds(30),
  jwksCooldown: Duration.seconds(30),
  jwksCacheMaxAge: Duration.minutes(10),
  jwksTimeout: Duration.seconds(2),
  cacheTtl: Duration.minutes(1),
  ...overrides
})

interface KeyPair {
  readonly kid: string
  readonly privateKey: jose.CryptoKey
  readonly jwk: jose.JWK
}

const keyPair = (alg: "RS256" | "ES256", kid: string) =>
  Effect.promise(async (): Promise<KeyPair> => {
    const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true })
    return { kid, privateKey, jwk: { ...(await jose.exportJWK(publicKey)), kid, alg, use: "sig" } }
  })

/** An identity provider's key set, served over HTTP, counting how often it is fetched. */
const jwksServer = (initial: ReadonlyArray<KeyPair>) =>
  Effect.gen(function* () {
    const state = { keys: [...initial], fetches: 0 }
    const server = createServer((_, response) => {
      state.fetches++
      response.writeHead(200, { "content-type": "application/json" })
      response.end(JSON.stringify({ keys: state.keys.map((key) => key.jwk) }))
    })
    yield* Effect.acquireRelease(
      Effect.callback<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
      () => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
    )
    return { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`), state }
  })

const failureOf = <A, E extends { readonly message: string; readonly _tag: string }>(
  effect: Effect.Effect<A, E>
) => Effect.map(Effect.flip(effect), (error) => `${error._tag}: ${error.message}`)

describe("key sources and algorithms", () => {
  it.live("RS256 and ES256 tokens signed by a key of the JWKS are accepted, with their scopes", () =>
    Effect.gen(function* () {
      const rsa = yield* keyPair("RS256", "rsa-1")
      const ec = yield* keyPair("ES256", "ec-1")
      const jwks = yield* jwksServer([rsa, ec])
      const verifier = yield* make(settings({ jwksUrl: Option.some(jwks.url) }))
      const claims = yield* verifier.verify(
        yield* signed("RS256", rsa.privateKey, rsa.kid, { claims: { scope: "admin orders" } })
      )
      assert.strictEqual(claims.subject, "alice")
      assert.deepStrictEqual([...claims.scopes], ["admin", "orders"])
      assert.strictEqual(
        (yield* verifier.verify(yield* signed("ES256", ec.privateKey, ec.kid))).subject,
        "alice"
      )
      assert.strictEqual(jwks.state.fetches, 1, "the key set is cached")
    }).pipe(Effect.scoped)
  )

  it.live("with only a JWKS configured, HS256 tokens are refused (the development secret is off)", () =>
    Effect.gen(function* () {
      const rsa = yield* keyPair("RS256", "rsa-1")
      const jwks = yield* jwksServer([rsa])
      const verifier = yield* make(settings({ jwksUrl: Option.some(jwks.url) }))
      assert.strictEqual(
        yield* failureOf(verifier.verify(yield* hs256())),
        "Unauthorized: The token's algorithm is not accepted"
      )
    }).pipe(Effect.scoped)
  )

  it.live("HS/RS confusion: an HS256 token keyed with the public key never verifies", () =>
    Effect.gen(function* () {
      const rsa = yield* keyPair("RS256", "rsa-1")
      const jwks = yield* jwksServer([rsa])
      const publicPem = yield* Effect.promise(async () =>
        jose.exportSPKI((await jose.importJWK(rsa.jwk, "RS256", { extractable: true })) as jose.CryptoKey)
      )
      const forged = yield* hs256({}, publicPem)
      const both = yield* make(
        settings({ jwksUrl: Option.some(jwks.url), secret: Option.some(Redacted.make(secret)) })
      )
      assert.strictEqual(
        yield* failureOf(both.verify(forged)),
        "Unauthorized: The token's signature is invalid"
      )
      // And an RS256 token means nothing to a gateway that only has a secret.
      const hsOnly = yield* make(settings({ secret: Option.some(Redacted.make(secret)) }))
      assert.strictEqual(
        yield* failureOf(hsOnly.verify(yield* signed("RS256", rsa.privateKey, rsa.kid))),
        "Unauthorized: The token's algorithm is not accepted"
      )
    }).pipe(Effect.scoped)
  )
})

describe("the JWKS cache", () => {
  it.live("a token with an unknown kid fetches the key set again, so rotated keys are picked up", () =>
    Effect.gen(function* () {
      const first = yield* keyPair("RS256", "2026-01")
      const next = yield* keyPair("ES256", "2026-02")
      const jwks = yield* jwksServer([first])
      const verifier = yield* make(settings({ jwksUrl: Option.some(jwks.url), jwksCooldown: Duration.zero }))
      yield* verifier.verify(yield* signed("RS256", first.privateKey, first.kid))
      assert.strictEqual(jwks.state.fetches, 1)
      jwks.state.keys.push(next)
      yield* verifier.verify(yield* signed("ES256", next.privateKey, next.kid))
      assert.strictEqual(jwks.state.fetches, 2)
    }).pipe(Effect.scoped)
  )

  it.live("unknown kids do not refetch within the cooldown: made-up kids cannot hammer the provider", () =>
    Effect.gen(function* () {
      const known = yield* keyPair("RS256", "known")
      const jwks = yield* jwksServer([known])
      const verifier = yield* make(
        settings({ jwksUrl: Option.some(jwks.url), jwksCooldown: Duration.minutes(1) })
      )
      yield* verifier.verify(yield* signed("RS256", known.privateKey, known.kid))
      const stranger = yield* keyPair("RS256", "stranger")
      for (let i = 0; i < 5; i++) {
        const token = yield* signed("RS256", stranger.privateKey, `made-up-${i}`)
        assert.strictEqual(
          yield* failureOf(verifier.verify(token)),
          "Unauthorized: The token is not signed by a trusted key"
        )
      }
      assert.strictEqual(jwks.state.fetches, 1)
    }).pipe(Effect.scoped)
  )

  it.live("a key set that cannot be fetched is 503 (the provider), not 401 (the token)", () =>
    Effect.gen(function* () {
      const key = yield* keyPair("RS256", "k")
      const verifier = yield* make(settings({ jwksUrl: Option.some(new URL("http://127.0.0.1:1/jwks")) }))
      const error = yield* Effect.flip(verifier.verify(yield* signed("RS256", key.privateKey, key.kid)))
      assert.strictEqual(error._tag, "ServiceUnavailable")
    })
  )
})

describe("the verified-token cache", () => {
  it.live("a verified token is not verified again within JWT_CACHE_TTL", () =>
    Effect.gen(function* () {
      const key = yield* keyPair("ES256", "k")
      const jwks = yield* jwksServer([key])
      // Without the cache, every verification would fetch this key set again (max age 0).
      const verifier = yield* make(
        settings({
          jwksUrl: Option.some(jwks.url),
          jwksCacheMaxAge: Duration.zero,
          jwksCooldown: Duration.zero
        })
      )
      const token = yield* signed("ES256", key.privateKey, key.kid)
      for (let i = 0; i < 3; i++) yield* verifier.verify(token)
      assert.strictEqual(jwks.state.fetches, 1)
    }).pipe(Effect.scoped)
  )

  it.live("a remembered token is still refused once it expires", () =>
    Effect.gen(function* () {
      const verifier = yield* make(
        settings({ secret: Option.some(Redacted.make(secret)), clockSkew: Duration.zero })
      )
      const token = yield* hs256({ expiresIn: 1 }, secret)
      assert.strictEqual((yield* verifier.verify(token)).subject, "alice")
      yield* Effect.sleep("1100 millis")
      assert.strictEqual(yield* failureOf(verifier.verify(token)), "Unauthorized: The token has expired")
    })
  )
})

describe("time claims", () => {
  it.live("exp and nbf allow the configured clock skew (30 s) and no more", () =>
    Effect.gen(function* () {
      const verifier = yield* make(settings({ secret: Option.some(Redacted.make(secret)) }))
      const accepts = (spec: Parameters<typeof hs256>[0]) =>
        Effect.flatMap(hs256(spec, secret), (token) =>
          Effect.match(verifier.verify(token), { onFailure: (e) => e.message, onSuccess: () => "accepted" })
        )
      assert.strictEqual(yield* accepts({ expiresIn: -10 }), "accepted")
      assert.strictEqual(yield* accepts({ expiresIn: -60 }), "The token has expired")
      assert.strictEqual(yield* accepts({ notBefore: 10 }), "accepted")
      assert.strictEqual(yield* accepts({ notBefore: 60 }), "The token is not valid yet")
    })
  )
})
