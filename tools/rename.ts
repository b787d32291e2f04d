/**
 * Gives the template your names:
 *
 *   npm run rename -- --name myco [--scope @myco] [--domain myco.dev]
 *
 * Replaces, in every file git knows (tracked, or new and not ignored) and in file names:
 *   - the npm scope (`@acme/...`, packages and imports) by `--scope` (default `@<name>`);
 *   - the problem type URIs' domain (`https://problems.acme.dev/...`) by `--domain`
 *     (default `<name>.dev`);
 *   - every other `acme`, `Acme`, `ACME` by the name in the same case: images
 *     (`ghcr.io/acme/order`), the Kubernetes namespace (`acme-shop`), databases and roles
 *     (`acme_order`), dashboards, cache folders, variables (`ACME_IMAGE_TAG`).
 * The current names are read from package.json and libs/contracts/src/Problem.ts, so a second
 * run with the same arguments changes nothing, and a later run renames again from the new
 * names. It then runs `npm install` (when node_modules exists) so the workspace links follow.
 * The name must be a lowercase word (`[a-z][a-z0-9]*`): it goes into SQL identifiers, DNS
 * labels and npm scopes alike.
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

const root = fileURLToPath(new URL("..", import.meta.url))

const fail = (message: string): never => {
  console.error(
    `rename: ${message}\nusage: npm run rename -- --name myco [--scope @myco] [--domain myco.dev]`
  )
  process.exit(2)
}

const { values } = parseArgs({
  options: { name: { type: "string" }, scope: { type: "string" }, domain: { type: "string" } }
})
const name = values.name ?? fail("--name is required")
if (!/^[a-z][a-z0-9]*$/.test(name)) fail(`--name must be a lowercase word ([a-z][a-z0-9]*), got "${name}"`)
const scope = values.scope ?? `@${name}`
if (!/^@[a-z0-9][a-z0-9-]*$/.test(scope)) fail(`--scope must look like @myco, got "${scope}"`)
const domain = values.domain ?? `${name}.dev`
if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(domain)) fail(`--domain must be a domain name, got "${domain}"`)

// The names in use now: the root package is `<scope>/source`; problems live under a domain.
const rootPackage = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { name: string }
const oldScope = rootPackage.name.split("/")[0]!
const problemFile = readFileSync(join(root, "libs/contracts/src/Problem.ts"), "utf8")
const oldDomain = /https:\/\/problems\.([^/"]+)\//.exec(problemFile)?.[1] ?? fail("no problem base URI found")
// Databases are `<name>_<service>`.
const from =
  /databaseName = .*`([a-z][a-z0-9]*)_\$\{/.exec(
    readFileSync(join(root, "tools/stack/config.ts"), "utf8")
  )?.[1] ?? fail("cannot tell the current name from tools/stack/config.ts")

const capital = (word: string) => word[0]!.toUpperCase() + word.slice(1)
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
const replacements: ReadonlyArray<readonly [RegExp, string]> = [
  [new RegExp(`${escape(oldScope)}/`, "g"), `${scope}/`],
  [new RegExp(`problems\\.${escape(oldDomain)}`, "g"), `problems.${domain}`],
  [new RegExp(from, "g"), name],
  [new RegExp(capital(from), "g"), capital(name)],
  [new RegExp(from.toUpperCase(), "g"), name.toUpperCase()]
]
const rename = (text: string) => replacements.reduce((out, [pattern, to]) => out.replace(pattern, to), text)

const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
  cwd: root,
  encoding: "utf8"
})
  .split("\0")
  .filter((file) => file !== "" && existsSync(join(root, file)))

// Names of another length move table columns and aligned comments: the formatters put them
// back, on the changed files only.
const changed: Array<string> = []
let moved = 0
for (const file of files) {
  const path = join(root, file)
  const target = rename(file)
  const bytes = readFileSync(path)
  if (!bytes.includes(0)) {
    const text = bytes.toString("utf8")
    const renamed = rename(text)
    if (renamed !== text) {
      writeFileSync(path, renamed)
      changed.push(target)
    }
  }
  if (target !== file) {
    mkdirSync(dirname(join(root, target)), { recursive: true })
    renameSync(path, join(root, target))
    moved++
  }
}
console.log(
  `rename: ${oldScope} -> ${scope}, ${from} -> ${name}, problems.${oldDomain} -> problems.${domain}: ` +
    `${changed.length} files changed, ${moved} moved`
)
if (changed.length > 0 && existsSync(join(root, "node_modules"))) {
  const go = changed.filter((file) => file.endsWith(".go"))
  try {
    if (go.length > 0) execFileSync("gofmt", ["-w", ...go], { cwd: root, stdio: "inherit" })
  } catch {
    console.log(`rename: no gofmt here; run \`gofmt -w ${go.join(" ")}\` where Go is installed`)
  }
  execFileSync("npx", ["prettier", "--log-level", "warn", "--ignore-unknown", "--write", ...changed], {
    cwd: root,
    stdio: "inherit"
  })
  console.log("rename: npm install, so the workspace links follow the new scope")
  execFileSync("npm", ["install", "--no-audit", "--no-fund"], { cwd: root, stdio: "inherit" })
}
