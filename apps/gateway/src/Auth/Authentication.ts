/**
 * The `Authentication` middleware of the contract: verifies the bearer token and provides the
 * `Caller` to everything after it (rate limit, handlers).
 */
import { Authentication, Caller } from "@acme/contracts/gateway"
import { Effect, Layer, Redacted } from "effect"
import { JwtVerifier } from "./Jwt.ts"

export const AuthenticationLive = Layer.effect(
  Authentication,
  Effect.gen(function* () {
    const verifier = yield* JwtVerifier
    return Authentication.of({
      bearer: (httpEffect, { credential }) =>
        Effect.flatMap(verifier.verify(Redacted.value(credential)), (claims) =>
          Effect.provideService(httpEffect, Caller, claims)
        )
    })
  })
)
