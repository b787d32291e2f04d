/**
 * A change's cost, side by side: the working tree against a git revision, both loaded at once.
 *
 *   npm run bench -- compare                      # against HEAD, 10 rounds x 4 s (about 2 min)
 *   npm run bench -- compare --base main~3 --rounds 12 --seconds 5
 *
 * Builds the production bundles of inventory and the gateway from the working tree and from
 * `--base` (checked out in a temporary git worktree), starts both pairs on Node against one fresh
 * database, and in every round drives the two inventories (`GET /products/{sku}`), then the two
 * gateways (`GET /v1/products/{sku}`), at the same time: 16 connections each, closed loop. The
 * figure is the CPU each service process used per request (/proc, Linux). Loading both builds at
 * once means a busy moment of a shared machine hits both alike; on the 2-core development
 * machine, one build measured after the other varied by 10-20% from round to round, which hides
 * a change of a few percent, while the ratio of two builds loaded together holds much steadier.
 *
 * Prints, per service, the medians, the ratio working tree / base and in how many rounds the
 * working tree was the cheaper; JSON in bench/results/. Holds the bench lock (bench/run.ts).
 */
import { spawnSync } from "node:child_process"
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync
} from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { parseArgs } from "node:util"
import { buildApps } from "../tools/build-app.ts"
import type { Proc } from "./lib.ts"
import {
  authorization,
  cpuMicrosPer,
  cpuMillis,
  makeDatabase,
  measure,
  median,
  outDir,
  root,
  stamp,
  startPair,
  stopAll
} from "./lib.ts"

const { values: args } = parseArgs({
  options: {
    base: { type: "string", default: "HEAD" },
    rounds: { type: "string", default: "10" },
    seconds: { type: "string", default: "4" }
  }
})
const rounds = Number(args.rounds)
const seconds = Number(args.seconds)
const sku = "BOLT-M8"
const services = ["inventory", "gateway"] as const
type Service = (typeof services)[number]
type Build = "base" | "work"

const git = (...argv: Array<string>) => {
  const run = spawnSync("git", argv, { cwd: root, encoding: "utf8" })
  if (run.status !== 0) throw new Error(`git ${argv.join(" ")}: ${run.stderr.trim()}`)
  return run.stdout.trim()
}

const bundles = (dist: string) =>
  Object.fromEntries(services.map((app) => [app, join(dist, app, "main.js")])) as Record<Service, string>

const build = (tree: string, dist: string) =>
  buildApps(services.map((app) => ({ app: join(tree, "apps", app), outfile: bundles(dist)[app] })))

/**
 * Bundles of the base revision, from a temporary worktree. Its node_modules links to ours, but
 * for the workspace's own packages (`@acme/*`), which must be the worktree's: linked to ours,
 * the base would be built with the working tree's libs.
 */
const buildBase = async (revision: string, dist: string) => {
  const tree = mkdtempSync(join(tmpdir(), "bench-base-"))
  git("worktree", "add", "--detach", tree, revision)
  try {
    const ours = join(root, "node_modules")
    const theirs = join(tree, "node_modules")
    mkdirSync(join(theirs, "@acme"), { recursive: true })
    for (const name of readdirSync(ours)) {
      if (name !== "@acme") symlinkSync(join(ours, name), join(theirs, name))
    }
    // The workspace's links are relative (`../../libs/server`): the same link resolves in the tree.
    for (const name of readdirSync(join(ours, "@acme"))) {
      symlinkSync(readlinkSync(join(ours, "@acme", name)), join(theirs, "@acme", name))
    }
    await build(tree, dist)
    // What the base bundles were built from, checked: none of our own sources may be in them.
    for (const bundle of Object.values(bundles(dist))) {
      const { sources } = JSON.parse(readFileSync(`${bundle}.map`, "utf8")) as { sources: Array<string> }
      const leaked = sources
        .map((source) => resolve(dirname(bundle), source))
        .find((source) => source.startsWith(join(root, "apps")) || source.startsWith(join(root, "libs")))
      if (leaked !== undefined)
        throw new Error(`the base bundle ${bundle} holds ${leaked} of the working tree`)
    }
  } finally {
    git("worktree", "remove", "--force", tree)
  }
}

const dists: Record<Build, string> = {
  base: join(root, "bench", "dist", "compare", "base"),
  work: join(root, "bench", "dist", "compare", "work")
}
const baseCommit = git("rev-parse", "--short", args.base)
console.error(`building the working tree and ${args.base} (${baseCommit}) ...`)
await buildBase(args.base, dists.base)
await build(root, dists.work)

const database = await makeDatabase("bench_compare")
const samples = Object.fromEntries(
  services.map((service) => [service, { base: [], work: [] }])
) as unknown as Record<Service, Record<Build, Array<{ readonly micros: number; readonly rps: number }>>>
try {
  const pairs: Record<Build, { readonly inventory: Proc; readonly gateway: Proc }> = {
    base: await startPair("node", database.url, { label: "base", ...bundles(dists.base) }),
    work: await startPair("node", database.url, { label: "work", ...bundles(dists.work) })
  }
  const headers = await authorization()
  const target = (service: Service, proc: Proc) =>
    service === "inventory" ? `${proc.url}/products/${sku}` : `${proc.url}/v1/products/${sku}`
  /** Loads the service of both builds at once; each one's req/s and CPU microseconds per request. */
  const both = async (service: Service, duration: number) => {
    const procs = { base: pairs.base[service], work: pairs.work[service] }
    const used = () =>
      cpuMillis((pid) =>
        pid === procs.base.child.pid ? "base" : pid === procs.work.child.pid ? "work" : undefined
      )
    const before = used()
    const [base, work] = await Promise.all(
      [procs.base, procs.work].map((proc) =>
        measure(target(service, proc), 16, duration, service === "gateway" ? headers : {})
      )
    )
    const after = used()
    if (base!.errors + work!.errors > 0) throw new Error(`${service}: failed requests`)
    return {
      base: { rps: base!.rps, micros: cpuMicrosPer(before, after, base!.rps * duration)["base"]! },
      work: { rps: work!.rps, micros: cpuMicrosPer(before, after, work!.rps * duration)["work"]! }
    }
  }
  // Warm-up: the JIT compiles the hot path of each build.
  for (const service of services) await both(service, 3)
  for (let round = 1; round <= rounds; round++) {
    for (const service of services) {
      const sample = await both(service, seconds)
      samples[service].base.push(sample.base)
      samples[service].work.push(sample.work)
      console.error(
        `round ${round}/${rounds} ${service.padEnd(9)} us of CPU per request: base ${sample.base.micros}, working tree ${sample.work.micros}`
      )
    }
  }
} finally {
  await stopAll()
  await database.drop()
}

const summary = services.map((service) => {
  const { base, work } = samples[service]
  const micros = (xs: typeof base) => median(xs.map((x) => x.micros))
  return {
    service,
    baseMicros: micros(base),
    workMicros: micros(work),
    ratio: Math.round((micros(work) / micros(base)) * 1000) / 1000,
    cheaperRounds: work.filter((x, i) => x.micros < base[i]!.micros).length,
    baseRps: Math.round(median(base.map((x) => x.rps))),
    workRps: Math.round(median(work.map((x) => x.rps)))
  }
})
console.log(
  `\nworking tree against ${args.base} (${baseCommit}): ${rounds} rounds x ${seconds} s, both loaded at once, medians`
)
console.log("service     CPU us/request: base  working tree  ratio   cheaper in   req/s: base  working tree")
for (const s of summary)
  console.log(
    `${s.service.padEnd(12)}${String(s.baseMicros).padStart(20)}${String(s.workMicros).padStart(14)}${s.ratio.toFixed(3).padStart(7)}${`${s.cheaperRounds}/${rounds} rounds`.padStart(13)}${String(s.baseRps).padStart(13)}${String(s.workRps).padStart(14)}`
  )
const file = join(outDir, `compare-${stamp}.json`)
writeFileSync(
  file,
  JSON.stringify(
    {
      base: { revision: args.base, commit: baseCommit },
      rounds,
      seconds,
      node: process.version,
      summary,
      samples
    },
    null,
    2
  )
)
console.log(`JSON: ${file}`)
