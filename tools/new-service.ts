/**
 * Adds a service with the shape of the others:
 *
 *   npm run new:service -- shipping [--port 8084]
 *
 * Writes, from tools/new-service/template/ (`__name__`, `__Name__`, `__NAME__`, `__port__`
 * filled in):
 *   - libs/contracts/src/<name>/: its contract, with a sample resource (`Item`) and typed errors;
 *   - apps/<name>/: main/Http/Sql, a migration, the feature folder Items/ (service, repository,
 *     handlers), tests (the contract over HTTP, the repository against PostgreSQL, boot on Node
 *     and Deno);
 *   - k8s/base/<name>/: Deployment (probes), Service, HPA, PDB, ServiceAccount.
 * and registers it: the contracts' exports and their status test, deno.json, `npm start`
 * (tools/stack/config.ts), docker compose (service, database and role, Prometheus job and
 * alert), the compose check's service lists, the Kubernetes base (resources, settings, network
 * policy, database access), both overlays (image, credentials, database, pool size) and the
 * validator's tables (k8s/validate), and the README's table of parts.
 *
 * The new service starts with no caller: give one access by adding the arrow to
 * k8s/base/network-policies.yaml and k8s/validate/netpol.go. The port is one above the highest
 * port `npm start` uses unless `--port` says otherwise. Then `npm install` links the workspace.
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

const root = fileURLToPath(new URL("..", import.meta.url))
const templateDir = join(root, "tools/new-service/template")

const fail = (message: string): never => {
  console.error(`new:service: ${message}\nusage: npm run new:service -- <name> [--port <port>]`)
  process.exit(2)
}

const { positionals, values } = parseArgs({ allowPositionals: true, options: { port: { type: "string" } } })
const name = positionals[0] ?? fail("the service's name is required")
if (!/^[a-z][a-z0-9]*$/.test(name)) fail(`the name must be a lowercase word ([a-z][a-z0-9]*), got "${name}"`)
if (existsSync(join(root, "apps", name))) fail(`apps/${name} exists already`)

// Every change is staged here and written at the end, so a missing anchor changes nothing.
const staged = new Map<string, string>()
const read = (file: string) => staged.get(file) ?? readFileSync(join(root, file), "utf8")
const write = (file: string, text: string) => staged.set(file, text)

const stackConfig = read("tools/stack/config.ts")
const ports = [...stackConfig.matchAll(/\{ name: "[a-z0-9]+", port: (\d+)/g)].map((m) => Number(m[1]))
const port = values.port === undefined ? Math.max(...ports) + 1 : Number(values.port)
if (!Number.isInteger(port) || port < 1024 || port > 65535)
  fail(`--port must be 1024-65535, got ${values.port}`)
if (ports.includes(port)) fail(`port ${port} is taken by another service`)

// The admin port (/metrics) is the kit's default, PORT + 1000.
const adminPort = port + 1000
const Name = name[0]!.toUpperCase() + name.slice(1)
const NAME = name.toUpperCase()
// The template's names (scope, database prefix) follow `npm run rename`.
const prefix = /databaseName = .*`([a-z][a-z0-9]*)_\$\{/.exec(stackConfig)?.[1] ?? fail("no database prefix")
const fill = (text: string) =>
  text
    .replaceAll("__name__", name)
    .replaceAll("__Name__", Name)
    .replaceAll("__NAME__", NAME)
    .replaceAll("__port__", String(port))
    .replaceAll("__adminport__", String(adminPort))

// ------------------------------------------------------------------------------- the files
const written: Array<string> = []
const copy = (dir: string) => {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) copy(path)
    else {
      const target = fill(relative(templateDir, path)).replace(/\.tmpl$/, "")
      write(target, fill(readFileSync(path, "utf8")))
      written.push(target)
    }
  }
}
copy(templateDir)

// ------------------------------------------------------------------------------- registration
/** Applies `change` to `file`; fails naming the file and the place when it finds no anchor. */
const edit = (file: string, change: (text: string) => string) => {
  const before = read(file)
  const after = change(before)
  if (after === before) fail(`found no place to register the service in ${file}`)
  write(file, after)
}
/** Inserts `text` after the last line matching `pattern` (a line regex). */
const afterLast = (pattern: RegExp, text: string) => (source: string) => {
  const lines = source.split("\n")
  const index = lines.findLastIndex((line) => pattern.test(line))
  if (index < 0) return source
  lines.splice(index + 1, 0, ...text.split("\n"))
  return lines.join("\n")
}
const json = (file: string, change: (value: any) => void) =>
  edit(file, (text) => {
    const value = JSON.parse(text)
    change(value)
    return JSON.stringify(value, null, 2) + "\n"
  })

json("libs/contracts/package.json", (p) => {
  p.exports[`./${name}`] = `./src/${name}/index.ts`
})
json("deno.json", (d) => {
  const apps = d.workspace.filter((w: string) => w.startsWith("./apps/"))
  d.workspace.splice(d.workspace.indexOf(apps.at(-1)) + 1, 0, `./apps/${name}`)
})
edit("libs/contracts/test/Contracts.test.ts", (text) =>
  afterLast(
    /^import \{ \w+Api \} from "\.\.\/src\//,
    `import { ${Name}Api } from "../src/${name}/index.ts"`
  )(text).replace(/(\n {2}\w+: errorsOf\(\w+\))\n\}/, `$1,\n  ${name}: errorsOf(${Name}Api)\n}`)
)
edit("tools/stack/config.ts", (text) =>
  text.replace(
    /(\n {2}\{ name: "[a-z0-9]+", port: \d+, database: \w+ \})\n\] as const/,
    `$1,\n  { name: "${name}", port: ${port}, database: true }\n] as const`
  )
)

// docker compose: the service, its database and role, Prometheus.
const database = `${prefix}_${name}`
edit("infra/compose.yaml", (text) =>
  afterLast(
    /^ {6}[A-Z0-9_]+_DB_PASSWORD: /,
    `      ${NAME}_DB_PASSWORD: \${${NAME}_DB_PASSWORD:-${name}-dev-password}`
  )(text).replace(
    /\n( {2}# -+ profile: observability)/,
    `
  ${name}:
    <<: *service
    image: \${${prefix.toUpperCase()}_IMAGE_PREFIX:-${prefix}}/${name}:\${${prefix.toUpperCase()}_IMAGE_TAG:-local}
    build:
      <<: *build
      args:
        <<: *build-args
        APP: ${name}
        PORT: "${port}"
    environment:
      <<: *service-env
      DATABASE_URL: postgres://${database}:\${${NAME}_DB_PASSWORD:-${name}-dev-password}@postgres:5432/${database}
    depends_on:
      postgres: { condition: service_healthy }

$1`
  )
)
edit("infra/postgres/init-databases.sh", (text) =>
  text
    .replace(/(default: [a-z0-9 ]+)\)/, `$1 ${name})`)
    .replace(/(SERVICE_DATABASES:-[a-z0-9 ]+)\}/, `$1 ${name}}`)
)
edit("infra/prometheus/prometheus.yml", (text) =>
  text.replace(
    /(\n {2}- job_name: [a-z0-9]+\n {4}static_configs:\n {6}- targets: \[[a-z0-9]+:\d+\])\n\n/,
    `$1\n  - job_name: ${name}\n    static_configs:\n      - targets: [${name}:${adminPort}]\n\n`
  )
)
edit(`infra/prometheus/rules/${prefix}.yml`, (text) =>
  text.replace(/(up\{job=~"gateway\|[a-z0-9|]+)"/, `$1|${name}"`)
)
edit("infra/check.sh", (text) =>
  text
    .replace(/(for app in gateway [a-z0-9 ]+); do/, `$1 ${name}; do`)
    .replace(/(services=\(gateway:\d+[a-z0-9: ]*)\)/, `$1 ${name}:${adminPort})`)
)

// Kubernetes base.
edit("k8s/base/kustomization.yaml", (text) =>
  afterLast(
    /^ {2}- [a-z0-9]+\/pdb\.yaml$/,
    ["serviceaccount", "deployment", "service", "hpa", "pdb"].map((k) => `  - ${name}/${k}.yaml`).join("\n")
  )(text).replace(
    /(\nconfigMapGenerator:\n(?:[ #].*\n|\n)*?(?: {6}- .*\n))(?=\S|$)/,
    `$1  - name: ${name}-config\n    literals:\n      - PORT=${port}\n      - DB_POOL_MAX=10\n      - NODE_OPTIONS=--max-old-space-size=192\n`
  )
)
edit("k8s/base/network-policies.yaml", (text) =>
  text
    .replace(
      /(\n {4}- from:\n(?: {8}- podSelector:\n {12}matchLabels:\n {14}app\.kubernetes\.io\/name: [a-z0-9]+\n)+)( {6}ports:\n {8}- protocol: TCP\n {10}port: 5432\n)(?![\s\S]*\n {4}- from:)/,
      `$1        - podSelector:\n            matchLabels:\n              app.kubernetes.io/name: ${name}\n$2`
    )
    .replace(
      /\n---\n(# The database pods)/,
      `
---
# No caller yet: add the arrows (ingress from its callers) here and in k8s/validate/netpol.go.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: ${name}
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: ${name}
  policyTypes:
    - Ingress
    - Egress
  egress:
    - to:
        - podSelector:
            matchLabels:
              app.kubernetes.io/component: database
      ports:
        - protocol: TCP
          port: 5432
---
$1`
    )
)

// Overlays.
edit("k8s/overlays/local/kustomization.yaml", (text) =>
  afterLast(
    /^ {4}newTag: dev$/,
    `  - name: ghcr.io/${prefix}/${name}\n    newName: ${prefix}/${name}\n    newTag: dev`
  )(text).replace(
    /(\n {6}- password=local-dev-only-[a-z0-9]+\n)(?![\s\S]*password=local-dev-only-(?!postgres))/,
    `$1  - name: ${name}-db-credentials\n    type: kubernetes.io/basic-auth\n    literals:\n      - username=${database}\n      - password=local-dev-only-${name}\n`
  )
)
edit("k8s/overlays/local/postgres.yaml", (text) =>
  afterLast(
    /^ {12}secretName: [a-z0-9]+-db-credentials$/,
    `        - name: ${name}-credentials\n          secret:\n            secretName: ${name}-db-credentials`
  )(
    afterLast(
      /^ {14}mountPath: \/run\/secrets\/[a-z0-9]+$/,
      `              readOnly: true\n            - name: ${name}-credentials\n              mountPath: /run/secrets/${name}`
    )(text)
  ).replace(/(for service in [a-z0-9 ]+); do/, `$1 ${name}; do`)
)
edit("k8s/overlays/production/kustomization.yaml", (text) =>
  afterLast(
    /^ {4}newTag: \d/,
    `  - name: ghcr.io/${prefix}/${name}\n    newTag: 0.1.0`
  )(text)
    .replace(
      /(\n {2}- name: [a-z0-9]+-config\n {4}behavior: merge\n {4}literals:\n {6}- DB_POOL_MAX=\d+\n)(?![\s\S]*DB_POOL_MAX)/,
      `$1  - name: ${name}-config\n    behavior: merge\n    literals:\n      - DB_POOL_MAX=4\n`
    )
    .replace(/(\n {6}kind: Deployment\n {6}name: order\|[a-z0-9|]+)\n/, `$1|${name}\n`)
)
// Production PostgreSQL: its role, its database, and room for its pool: (6 + 1) x 4 connections.
edit(
  "k8s/overlays/production/postgres.yaml",
  (text) =>
    afterLast(
      /^ {10}name: [a-z0-9]+-db-credentials$/,
      `      - name: ${database}\n        ensure: present\n        login: true\n        passwordSecret:\n          name: ${name}-db-credentials`
    )(text)
      .replace(/max_connections: "(\d+)"/, (_, n: string) => `max_connections: "${Number(n) + 28}"`)
      .replace(/\n*$/, "\n") +
    `---
apiVersion: postgresql.cnpg.io/v1
kind: Database
metadata:
  name: ${prefix}-${name}
  annotations:
    argocd.argoproj.io/sync-options: Prune=false,Delete=false
spec:
  cluster:
    name: shop-db
  name: ${database}
  owner: ${database}
  ensure: present
  databaseReclaimPolicy: retain
`
)
edit("k8s/check.sh", (text) =>
  text.replace(/(external=[a-z0-9-]+-db-credentials,)/, `$1${name}-db-credentials,`)
)

// The validator's tables.
edit("k8s/validate/validate_test.go", (text) =>
  text.replace(/(externalSecrets = \[\]string\{"[a-z0-9]+-db-credentials", )/, `$1"${name}-db-credentials", `)
)
edit("k8s/validate/envtable.go", (text) =>
  text
    .replace(
      /(\n\}\n\n\/\/ defaultPorts)/,
      `\n\t"${name}": {kitEnv, databaseEnv, nodeEnv, {[]string{"apps/${name}/src"}, nil}},$1`
    )
    .replace(/(var defaultPorts = map\[string\]int32\{[^}]*)\}/, `$1, "${name}": ${port}}`)
)
edit("k8s/validate/netpol.go", (text) =>
  text.replace(
    /(var architecture = \[\]edge\{\n(?:\t.*\n)*?)\}/,
    `$1\t{"${name}", "database", 5432, "TCP"},\n\t{"prometheus", "${name}", ${adminPort}, "TCP"},\n}`
  )
)

// The README's table of parts.
edit("README.md", (text) =>
  afterLast(
    /^\| (gateway|order|inventory|payment) \(\[README\]\(apps\//,
    `| ${name} ([README](apps/${name}/README.md)): generated by \`npm run new:service\`, a sample resource to replace | new |`
  )(text)
)

for (const [file, text] of staged) {
  mkdirSync(dirname(join(root, file)), { recursive: true })
  writeFileSync(join(root, file), text)
}
console.log(`new:service: ${name} on port ${port}\n  ${written.join("\n  ")}`)
execFileSync("npx", ["prettier", "--log-level", "warn", "--write", "README.md", ...written], {
  cwd: root,
  stdio: "inherit"
})
try {
  execFileSync(
    "gofmt",
    ["-w", "k8s/validate/envtable.go", "k8s/validate/netpol.go", "k8s/validate/validate_test.go"],
    { cwd: root }
  )
} catch {
  console.log(
    "new:service: gofmt not found; k8s/check.sh formats nothing, run gofmt -w k8s/validate once Go is there"
  )
}
if (existsSync(join(root, "node_modules"))) {
  execFileSync("npm", ["install", "--no-audit", "--no-fund"], { cwd: root, stdio: "inherit" })
}
console.log(`new:service: done; try \`npx nx run ${name}:test\` and README.md "Make it yours"`)
