/**
 * A development token for the gateway as started locally: signed with `JWT_SECRET`,
 * `JWT_ISSUER` and `JWT_AUDIENCE` from this environment when set (the gateway reads the same
 * variables), else with its development defaults. For `npm run token`, `npm start`'s banner and
 * the load tests; never for production.
 */
import { signDevToken } from "../apps/gateway/src/Auth/DevToken.ts"

export const signLocalToken = (
  subject: string,
  options: { readonly scopes?: ReadonlyArray<string>; readonly expiresIn?: string } = {}
): Promise<string> =>
  signDevToken({
    subject,
    scopes: options.scopes,
    expiresIn: options.expiresIn ?? "1h",
    secret: process.env["JWT_SECRET"] || undefined,
    issuer: process.env["JWT_ISSUER"] || undefined,
    audience: process.env["JWT_AUDIENCE"] || undefined
  })
