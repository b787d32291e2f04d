/**
 * What the stack runs, read from the command line and the environment (see `start.ts` for the
 * flags and variables). Throws an `Error` whose message is meant for the user on a bad value.
 */
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

export const root = fileURLToPath(new URL("../..", import.meta.url))
export const dataDir = join(root, ".data")
export const postgresDir = join(dataDir, "postgres")
export const logDir = join(dataDir, "logs")
/** The services' bundles that `npm start` runs on Node. */
export const buildDir = join(dataDir, "build")

/** The database of a service, on the embedded server and on a `DATABASE_URL` server alike. */
export const databaseName = (service: string) => `acme_${service}`

export type Runtime = "node" | "deno"

export interface ServiceConfig {
  readonly name: string
  readonly port: number
  /** `undefined` for a service without a database (the gateway). */
  readonly database?: {
    readonly name: string
    /** From `<SERVICE>_DATABASE_URL`: used as it is, nothing is created. */
    readonly url?: string
  }
}

export interface StackConfig {
  readonly help: boolean
  readonly reset: boolean
  readonly verbose: boolean
  readonly runtime: Runtime
  /** The address the services listen on. */
  readonly host: string
  /** `DATABASE_URL`: an existing server to use instead of the embedded one. */
  readonly serverUrl?: string
  readonly postgresPort: number
  readonly services: ReadonlyArray<ServiceConfig>
}

const services = [
  { name: "gateway", port: 8080, database: false },
  { name: "order", port: 8081, database: true },
  { name: "inventory", port: 8082, database: true },
  { name: "payment", port: 8083, database: true }
] as const

const port = (env: NodeJS.ProcessEnv, variable: string, fallback: number): number => {
  const value = env[variable]
  if (value === undefined || value === "") return fallback
  const parsed = Number(value)
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 65535)
    throw new Error(`${variable} must be a port number (1-65535), got "${value}"`)
  return parsed
}

export const readConfig = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): StackConfig => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      help: { type: "boolean", short: "h" },
      reset: { type: "boolean" },
      verbose: { type: "boolean", short: "v" },
      runtime: { type: "string" }
    }
  })
  const runtime = values.runtime ?? "node"
  if (runtime !== "node" && runtime !== "deno")
    throw new Error(`--runtime must be "node" or "deno", got "${runtime}"`)
  const config: StackConfig = {
    help: values.help ?? false,
    reset: values.reset ?? false,
    verbose: values.verbose ?? false,
    runtime,
    host: env["HOST"] || "127.0.0.1",
    ...(env["DATABASE_URL"] ? { serverUrl: env["DATABASE_URL"] } : {}),
    postgresPort: port(env, "STACK_PG_PORT", 5433),
    services: services.map((service) => {
      const upper = service.name.toUpperCase()
      const url = env[`${upper}_DATABASE_URL`]
      return {
        name: service.name,
        port: port(env, `${upper}_PORT`, service.port),
        ...(service.database
          ? { database: { name: databaseName(service.name), ...(url ? { url } : {}) } }
          : {})
      }
    })
  }
  const ports = config.services.map((service) => service.port)
  if (new Set(ports).size !== ports.length)
    throw new Error(`two services have the same port: ${ports.join(", ")}`)
  return config
}

/** `url` with its database replaced by `database`. */
export const withDatabase = (url: string, database: string): string => {
  const parsed = new URL(url)
  parsed.pathname = `/${encodeURIComponent(database)}`
  return parsed.toString()
}

/** `url` without its password, for printing. */
export const redact = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = "***"
    return parsed.toString()
  } catch {
    return "(not a URL)"
  }
}
