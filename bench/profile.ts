/**
 * Summarises the `node --cpu-prof` profiles of a bench run: for the order service and the
 * gateway, where their CPU time went (self time by package or source folder, and the top
 * functions), as lines for the bench report.
 */
import { readdirSync, readFileSync } from "node:fs"
import { SourceMap } from "node:module"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

interface ProfileNode {
  readonly id: number
  readonly callFrame: {
    readonly functionName: string
    readonly url: string
    readonly lineNumber: number
    readonly columnNumber: number
  }
  readonly hitCount?: number
}

interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly startTime: number
  readonly endTime: number
  readonly samples: ReadonlyArray<number>
}

/** Where a function lives: a package, a source folder of ours, node's internals, or the VM. */
const placeOf = (url: string, name: string) => {
  if (url === "") return name.startsWith("(") ? name : "(native)"
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (module) return module[1]
  const ours = /\/(apps|libs)\/([^/]+)\/src\/(?:([^/]+)\/)?/.exec(url)
  if (ours) return `${ours[1]}/${ours[2]}${ours[3] && !ours[3].includes(".") ? `/${ours[3]}` : ""}`
  if (url.startsWith("node:")) return "node internals"
  return url
}

/** The source maps of the bundles profiled (`undefined`: none beside the bundle). */
const sourceMaps = new Map<string, SourceMap | undefined>()

/**
 * Where a frame is in the sources: a service that runs its bundle is one file, whose source map
 * names the source file of each position.
 */
const sourceOf = ({ url, lineNumber, columnNumber }: ProfileNode["callFrame"]) => {
  if (!url.startsWith("file:") || !url.endsWith(".js")) return { url, line: lineNumber + 1 }
  if (!sourceMaps.has(url)) {
    try {
      sourceMaps.set(url, new SourceMap(JSON.parse(readFileSync(`${fileURLToPath(url)}.map`, "utf8"))))
    } catch {
      sourceMaps.set(url, undefined)
    }
  }
  const entry = sourceMaps.get(url)?.findEntry(lineNumber, columnNumber)
  return entry !== undefined && "originalSource" in entry
    ? { url: entry.originalSource, line: entry.originalLine + 1 }
    : { url, line: lineNumber + 1 }
}

const serviceOf = (profile: Profile) => {
  for (const node of profile.nodes) {
    const match = /\/apps\/([^/]+)\/src\/main\.ts|build\/([^/]+)\/main\.js$/.exec(node.callFrame.url)
    if (match) return match[1] ?? match[2]
  }
  return undefined
}

export const summariseProfiles = (dir: string, services: ReadonlyArray<string> = ["order", "gateway"]) => {
  const lines: Array<string> = []
  const byService: Record<string, unknown> = {}
  for (const file of readdirSync(dir).filter((name) => name.endsWith(".cpuprofile"))) {
    const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as Profile
    const service = serviceOf(profile)
    if (service === undefined || !services.includes(service)) continue
    const millisPerSample = (profile.endTime - profile.startTime) / 1000 / Math.max(profile.samples.length, 1)
    const hits = new Map<number, number>()
    for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1)
    const places = new Map<string, number>()
    const functions = new Map<string, number>()
    let busy = 0
    for (const node of profile.nodes) {
      const n = hits.get(node.id) ?? 0
      if (n === 0 || node.callFrame.functionName === "(idle)") continue
      const millis = n * millisPerSample
      busy += millis
      const source = sourceOf(node.callFrame)
      const place = placeOf(source.url, node.callFrame.functionName)
      places.set(place, (places.get(place) ?? 0) + millis)
      const fn = `${node.callFrame.functionName || "(anonymous)"} ${place}:${source.line}`
      functions.set(fn, (functions.get(fn) ?? 0) + millis)
    }
    const top = (map: Map<string, number>, n: number) =>
      [...map.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, n)
        .map(([name, millis]) => ({ name, percent: Math.round((millis / busy) * 1000) / 10 }))
    const wall = (profile.endTime - profile.startTime) / 1000
    const summary = {
      busyMillis: Math.round(busy),
      wallMillis: Math.round(wall),
      places: top(places, 12),
      functions: top(functions, 12)
    }
    byService[service] = summary
    lines.push(
      `${service}: busy ${summary.busyMillis} ms of ${summary.wallMillis} ms`,
      `  by place: ${summary.places.map((p) => `${p.name} ${p.percent}%`).join(", ")}`,
      `  top functions: ${summary.functions
        .slice(0, 8)
        .map((f) => `${f.name} ${f.percent}%`)
        .join(", ")}`
    )
  }
  return { lines, services: byService }
}
