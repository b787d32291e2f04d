// The k6 entry point of the compose `k6` profile: loadtests/shop.js (its scenarios,
// thresholds and traffic mix, unchanged) with bearer tokens minted here, so no other tool
// has to run first. The tokens are development tokens: HS256 with JWT_SECRET (default: the
// gateway's published development secret, apps/gateway/src/Auth/JwtConfig.ts), issuer and
// audience as the gateway reads them. A TOKENS variable that is already set is used as it is.
//
// Modules are evaluated in import order: ./tokens.js sets __ENV.TOKENS in the init context
// before loadtests/lib/workload.js reads it there (k6 does not carry such an assignment into
// the iterations, so the value is only good for code that reads it at init, as workload.js does).
import "./tokens.js"
export { options, default } from "/loadtests/shop.js"
