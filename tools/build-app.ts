/**
 * Production build of one app: `src/main.ts` and everything it imports bundled into
 * `dist/main.js` (ES module, Node 22.19+), so a container image needs no node_modules and no
 * TypeScript. Run from an app folder (`npm run build` / `nx run-many -t build`).
 *
 * `buildApp` is also what `npm start` and the benches run on Node: the bundle, as the images
 * do, because a service loaded from its sources (type stripping, hundreds of modules) idles at
 * about 80 MB more memory.
 */
import { build, stop } from "esbuild"
import { resolve } from "node:path"

/** Bundles `<app>/src/main.ts` into `outfile` (with a linked source map); resolves to `outfile`. */
export const buildApp = async (app: string, outfile = resolve(app, "dist/main.js")): Promise<string> => {
  await build({
    entryPoints: [resolve(app, "src/main.ts")],
    outfile,
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
  return outfile
}

/** Builds apps at once, then stops esbuild's helper process, which would outlive the caller's work. */
export const buildApps = async (
  builds: ReadonlyArray<{ readonly app: string; readonly outfile: string }>
): Promise<void> => {
  try {
    await Promise.all(builds.map(({ app, outfile }) => buildApp(app, outfile)))
  } finally {
    await stop()
  }
}

if (import.meta.main) console.log(`built ${await buildApp(process.cwd())}`)
