/**
 * Prints a development token the gateway accepts in its local configuration:
 *
 *   npm run token -- <subject> [--scope admin] [--scope other ...] [--expires 1h]
 *
 * The subject is the caller's customer id. `JWT_SECRET`, `JWT_ISSUER` and `JWT_AUDIENCE` are
 * used when set, as the gateway uses them, so the token matches a gateway started with the same
 * environment. Never for production: production tokens come from the identity provider.
 */
import { parseArgs } from "node:util"
import { signLocalToken } from "./localToken.ts"

const usage = "usage: npm run token -- <subject> [--scope admin] [--expires 1h]"

let parsed
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      scope: { type: "string", multiple: true },
      expires: { type: "string" },
      help: { type: "boolean", short: "h" }
    }
  })
} catch (error) {
  console.error(`${(error as Error).message}\n${usage}`)
  process.exit(2)
}
const { positionals, values } = parsed
if (values.help === true || positionals.length !== 1) {
  console.error(usage)
  process.exit(values.help === true ? 0 : 2)
}

const token = await signLocalToken(positionals[0]!, {
  scopes: (values.scope ?? []).flatMap((scope) => scope.split(/[\s,]+/).filter(Boolean)),
  expiresIn: values.expires ?? "1h"
})
console.log(token)
