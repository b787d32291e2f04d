// Module boundaries from the Nx tags in each project's package.json.
// A project may import another only through its package name (never a relative path across
// projects), only when one of its tags allows the other's tags, and a project may be barred
// from some external modules (contracts stay free of servers, SQL and node:*).
import { existsSync, readFileSync, readdirSync } from "node:fs"
import { dirname, join, resolve, sep } from "node:path"

const root = resolve(dirname(new URL(import.meta.url).pathname), "../..")

const loadProjects = () => {
  const projects = []
  for (const folder of ["apps", "libs"]) {
    const dir = join(root, folder)
    if (!existsSync(dir)) continue
    for (const name of readdirSync(dir)) {
      const manifest = join(dir, name, "package.json")
      if (!existsSync(manifest)) continue
      const pkg = JSON.parse(readFileSync(manifest, "utf8"))
      projects.push({ name: pkg.name, dir: join(dir, name), tags: pkg.nx?.tags ?? [] })
    }
  }
  return projects
}

const projects = loadProjects()
const byName = new Map(projects.map((p) => [p.name, p]))
const owner = (file) => projects.find((p) => file === p.dir || file.startsWith(p.dir + sep))

const matches = (pattern, specifier) =>
  pattern.endsWith("*") ? specifier.startsWith(pattern.slice(0, -1)) : specifier === pattern

/** @type {import("eslint").Rule.RuleModule} */
export const boundaries = {
  meta: {
    type: "problem",
    docs: { description: "Enforce project boundaries declared by Nx tags" },
    schema: [
      {
        type: "object",
        properties: {
          depConstraints: { type: "array" }
        }
      }
    ]
  },
  create(context) {
    const { depConstraints = [] } = context.options[0] ?? {}
    const file = resolve(context.filename)
    const source = owner(file)
    if (source === undefined) return {}
    const constraints = depConstraints.filter((c) => source.tags.includes(c.sourceTag))

    const check = (node, specifier) => {
      if (typeof specifier !== "string") return
      let target
      if (specifier.startsWith(".")) {
        target = owner(resolve(dirname(file), specifier))
        if (target !== undefined && target !== source) {
          context.report({
            node,
            message: `Import ${target.name} by its package name, not a relative path into its folder.`
          })
          return
        }
      } else {
        const name = specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier
        target = byName.get(name)
      }
      for (const c of constraints) {
        if (target !== undefined && target !== source) {
          const allowed = c.onlyDependOnLibsWithTags ?? ["*"]
          if (!allowed.includes("*") && !target.tags.some((t) => allowed.includes(t))) {
            context.report({
              node,
              message: `A project tagged "${c.sourceTag}" may only depend on projects tagged ${allowed.join(", ")}; ${target.name} has ${target.tags.join(", ")}.`
            })
          }
        }
        if (target === undefined && !specifier.startsWith(".")) {
          const banned = (c.bannedExternalImports ?? []).find((p) => matches(p, specifier))
          const onlyAllowed = c.allowedExternalImports
          if (banned !== undefined || (onlyAllowed && !onlyAllowed.some((p) => matches(p, specifier)))) {
            context.report({
              node,
              message: `A project tagged "${c.sourceTag}" may not import "${specifier}".`
            })
          }
        }
      }
    }

    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ImportExpression: (node) => node.source.type === "Literal" && check(node, node.source.value)
    }
  }
}
