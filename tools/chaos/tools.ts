/**
 * The external programs of the chaos suite: toxiproxy (a real TCP proxy whose faults are set
 * through its HTTP API) and k6. Both are found in `$(go env GOPATH)/bin` (or TOXIPROXY_BIN,
 * K6_BIN, the PATH) and installed there with `go install` at a pinned version when absent, as CI
 * installs k6.
 */
import { spawn, spawnSync } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { homedir, tmpdir } from "node:os"
import { basename, join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"

const goBin = join(process.env["GOPATH"] ?? join(homedir(), "go"), "bin")

const runs = (bin: string, args: ReadonlyArray<string>) => spawnSync(bin, args).status === 0

/**
 * The program from `variable`, the PATH or Go's bin folder; if none runs, `go install package`
 * (into a temporary GOBIN: the command's folder names the binary) and moved to Go's bin folder.
 */
const findOrInstall = (name: string, variable: string, versionArgs: Array<string>, pkg: string) => {
  const candidates = [process.env[variable], name, join(goBin, name)]
  const found = candidates.find((bin) => bin !== undefined && runs(bin, versionArgs))
  if (found !== undefined) return found
  console.log(`chaos: ${name} not found; installing it: go install ${pkg}`)
  const temporary = mkdtempSync(join(tmpdir(), "chaos-go-"))
  const install = spawnSync("go", ["install", pkg], {
    stdio: "inherit",
    env: { ...process.env, GOBIN: temporary }
  })
  const built = join(temporary, basename(pkg.split("@")[0]!))
  if (install.status !== 0 || !existsSync(built))
    throw new Error(`could not install ${name} (go install ${pkg}); set ${variable} to one`)
  mkdirSync(goBin, { recursive: true })
  const installed = join(goBin, name)
  copyFileSync(built, installed)
  chmodSync(installed, 0o755)
  rmSync(temporary, { recursive: true, force: true })
  return installed
}

export const findK6 = () => findOrInstall("k6", "K6_BIN", ["version"], "go.k6.io/k6@v1.4.2")

/** toxiproxy 2.5.0's server command is `cmd/server`; installed as `toxiproxy-server`. */
export const findToxiproxy = () =>
  findOrInstall(
    "toxiproxy-server",
    "TOXIPROXY_BIN",
    ["-version"],
    "github.com/Shopify/toxiproxy/v2/cmd/server@v2.5.0"
  )

export interface Toxic {
  readonly type: "latency" | "reset_peer" | "timeout"
  readonly attributes: Record<string, number>
  /** Share of connections affected (1 by default). */
  readonly toxicity?: number
}

/** A toxiproxy server of our own, spoken to through its HTTP API. */
export class Toxiproxy {
  private readonly process: ChildProcess
  private readonly api: string

  private constructor(process: ChildProcess, api: string) {
    this.process = process
    this.api = api
  }

  static async start(port: number): Promise<Toxiproxy> {
    const bin = findToxiproxy()
    const child = spawn(bin, ["-host", "127.0.0.1", "-port", String(port)], { stdio: "ignore" })
    const proxy = new Toxiproxy(child, `http://127.0.0.1:${port}`)
    for (let i = 0; i < 100; i++) {
      if (
        await fetch(`${proxy.api}/version`).then(
          (r) => r.ok,
          () => false
        )
      )
        return proxy
      if (child.exitCode !== null) break
      await sleep(100)
    }
    child.kill()
    throw new Error(`toxiproxy-server did not answer on port ${port}`)
  }

  private async call(method: string, path: string, body?: unknown) {
    const response = await fetch(`${this.api}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { "content-type": "application/json" } })
    })
    if (!response.ok)
      throw new Error(`toxiproxy ${method} ${path}: ${response.status} ${await response.text()}`)
    return response
  }

  /** A proxy listening on 127.0.0.1:`listen`, forwarding to 127.0.0.1:`upstream`. */
  addProxy = (name: string, listen: number, upstream: number) =>
    this.call("POST", "/proxies", {
      name,
      listen: `127.0.0.1:${listen}`,
      upstream: `127.0.0.1:${upstream}`,
      enabled: true
    })

  /** Adds `toxic` to the proxy, on the traffic towards the upstream. */
  addToxic = (proxy: string, name: string, toxic: Toxic) =>
    this.call("POST", `/proxies/${proxy}/toxics`, {
      name,
      type: toxic.type,
      stream: "downstream",
      toxicity: toxic.toxicity ?? 1,
      attributes: toxic.attributes
    })

  /** Removes every toxic and enables every proxy. */
  reset = () => this.call("POST", "/reset")

  stop = () => {
    this.process.kill()
  }
}
