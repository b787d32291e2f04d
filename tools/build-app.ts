/**
 * Production build of one app: `src/main.ts` and everything it imports bundled into
 * `dist/main.js` (ES module, Node 22.19+), so a container image needs no node_modules and no
 * TypeScript. Run from an app folder (`npm run build` / `nx run-many -t build`).
 */
import { build } from "esbuild"
import { resolve } from "node:path"

const app = process.cwd()

await build({
  entryPoints: [resolve(app, "src/main.ts")],
  outfile: resolve(app, "dist/main.js"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22.19",
  sourcemap: "linked",
  legalComments: "linked",
  // Optional native speed-ups that `ws` loads when present; not needed.
  external: ["bufferutil", "utf-8-validate"],
  // Some bundled dependencies are CommonJS and call `require` for Node built-ins.
  banner: {
    js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);'
  },
  logLevel: "warning"
})
console.log(`built ${resolve(app, "dist/main.js")}`)
