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
import { existsSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { buildApps } from "../tools/build-app.ts"
import type { Proc } from "./lib.ts"
import {
  authorization,
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

const git = (...argv: Array<string>) => {
  const run = spawnSync("git", argv, { cwd: root, encoding: "utf8" })
  if (run.status !== 0) throw new Error(`git ${argv.join(" ")}: ${run.stderr.trim()}`)
  return run.stdout.trim()
}

/** Bundles of the base revision, built in a temporary worktree that shares our node_modules. */
const buildBase = async (revision: string, dist: string) => {
  const tree = mkdtempSync(join(tmpdir(), "bench-base-"))
  git("worktree", "add", "--detach", tree, revision)
  try {
    for (const folder of [
      "",
      ...["apps", "libs"].flatMap((kind) => readdirSync(join(root, kind)).map((name) => join(kind, name)))
    ]) {
      const modules = join(root, folder, "node_modules")
      if (existsSync(modules) && existsSync(join(tree, folder)))
        symlinkSync(modules, join(tree, folder, "node_modules"))
    }
    await buildApps(
      ["inventory", "gateway"].map((app) => ({
        app: join(tree, "apps", app),
        outfile: join(dist, app, "main.js")
      }))
    )
  } finally {
    git("worktree", "remove", "--force", tree)
  }
}

const builds = {
  base: join(root, "bench", "dist", "compare", "base"),
  work: join(root, "bench", "dist", "compare", "work")
} as const
const baseCommit = git("rev-parse", "--short", args.base)
console.error(`building the working tree and ${args.base} (${baseCommit}) ...`)
await buildBase(args.base, builds.base)
await buildApps(
  ["inventory", "gateway"].map((app) => ({
    app: join(root, "apps", app),
    outfile: join(builds.work, app, "main.js")
  }))
)

const database = await makeDatabase("bench_compare")
type Service = "inventory" | "gateway"
const perRequest: Record<Service, Record<"base" | "work", Array<number>>> = {
  inventory: { base: [], work: [] },
  gateway: { base: [], work: [] }
}
const rps: Record<Service, Record<"base" | "work", Array<number>>> = {
  inventory: { base: [], work: [] },
  gateway: { base: [], work: [] }
}
try {
  const pairs = {
    base: await startPair("node", database.url, { label: "base", ...entries(builds.base) }),
    work: await startPair("node", database.url, { label: "work", ...entries(builds.work) })
  }
  const headers = await authorization()
  const target = (service: Service, proc: Proc) =>
    service === "inventory" ? proc.url + `/products/${sku}` : `${proc.url}/v1/products/${sku}`
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
      base: { rps: base!.rps, micros: ((after.base! - before.base!) * 1000) / (base!.rps * duration) },
      work: { rps: work!.rps, micros: ((after.work! - before.work!) * 1000) / (work!.rps * duration) }
    }
  }
  // Warm-up: the JIT compiles the hot path of each build.
  for (const service of ["inventory", "gateway"] as const) await both(service, 3)
  for (let round = 1; round <= rounds; round++) {
    for (const service of ["inventory", "gateway"] as const) {
      const sample = await both(service, seconds)
      for (const build of ["base", "work"] as const) {
        perRequest[service][build].push(sample[build].micros)
        rps[service][build].push(sample[build].rps)
      }
      console.error(
        `round ${round}/${rounds} ${service.padEnd(9)} us of CPU per request: base ${sample.base.micros.toFixed(0)}, working tree ${sample.work.micros.toFixed(0)}`
      )
    }
  }
} finally {
  await stopAll()
  await database.drop()
}

function entries(dist: string) {
  return { inventory: join(dist, "inventory", "main.js"), gateway: join(dist, "gateway", "main.js") }
}

const summary = (["inventory", "gateway"] as const).map((service) => {
  const base = median(perRequest[service].base)
  const work = median(perRequest[service].work)
  const cheaper = perRequest[service].work.filter((micros, i) => micros < perRequest[service].base[i]!).length
  return {
    service,
    baseMicros: Math.round(base),
    workMicros: Math.round(work),
    ratio: Math.round((work / base) * 1000) / 1000,
    cheaperRounds: cheaper,
    baseRps: Math.round(median(rps[service].base)),
    workRps: Math.round(median(rps[service].work))
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
      perRequest,
      rps
    },
    null,
    2
  )
)
console.log(`JSON: ${file}`)
