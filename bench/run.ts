/**
 * The one bench command. The first argument names what to measure; the rest are its options:
 *
 *   npm run bench [-- http] [options]   # the kit against Fastify, the gateway against a direct
 *                                       # call, on Node and Deno (http.ts)
 *   npm run bench -- orders [options]   # the order pipeline against its SQL ceiling (orders.ts)
 *   npm run bench -- soak [options]     # memory and handles under steady load (soak.ts)
 *   npm run bench -- compare [options]  # the working tree against a git revision, side by side
 *                                       # (compare.ts)
 *
 * Each module's header lists its options (`--quick` is the CI variant of each).
 */
import { holdBenchLock } from "./lib.ts"

const benches = {
  http: "./http.ts",
  orders: "./orders.ts",
  soak: "./soak.ts",
  compare: "./compare.ts"
} as const
type Bench = keyof typeof benches

const first = process.argv[2]
const named = first !== undefined && Object.hasOwn(benches, first)
if (first !== undefined && !named && !first.startsWith("-")) {
  console.error(`npm run bench: unknown bench "${first}"; one of: ${Object.keys(benches).join(", ")}`)
  process.exit(2)
}
// Every bench takes its turn under the lock (it runs this same command again under `flock`).
holdBenchLock()
// The chosen module reads its options from process.argv, as when it is run on its own.
if (named) process.argv.splice(2, 1)
await import(benches[named ? (first as Bench) : "http"])
