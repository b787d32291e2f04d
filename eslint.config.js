import js from "@eslint/js"
import tseslint from "typescript-eslint"
import { boundaries } from "./tools/eslint/boundaries.js"

/**
 * Who may import whom, by Nx tag (see each project's package.json). Test files may also use
 * the testing lib (PostgreSQL, test servers); source never does.
 */
const depConstraints = ({ tests }) => [
  {
    sourceTag: "type:app",
    onlyDependOnLibsWithTags: ["type:lib", "type:contract", ...(tests ? ["type:testing"] : [])]
  },
  {
    sourceTag: "type:lib",
    onlyDependOnLibsWithTags: ["type:lib", "type:contract", ...(tests ? ["type:testing"] : [])]
  },
  { sourceTag: "type:testing", onlyDependOnLibsWithTags: ["type:lib", "type:contract"] },
  {
    sourceTag: "type:contract",
    onlyDependOnLibsWithTags: ["type:contract"],
    allowedExternalImports: ["effect", "effect/*", "@effect/vitest", "vitest", "vitest/*"],
    bannedExternalImports: ["effect/sql*", "node:*"]
  }
]

export default tseslint.config(
  { ignores: ["**/node_modules/**", "**/dist/**", "**/.nx/**", "**/.data/**", "**/.tools/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { acme: { rules: { boundaries } } },
    languageOptions: {
      globals: { process: "readonly", console: "readonly", URL: "readonly", setTimeout: "readonly" }
    },
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-empty-object-type": "off",
      "@typescript-eslint/consistent-type-imports": "error",
      "acme/boundaries": ["error", { depConstraints: depConstraints({ tests: false }) }]
    }
  },
  {
    // k6 scripts run in k6's JavaScript runtime, which provides these.
    files: ["loadtests/**/*.js", "bench/**/*.js", "infra/k6/**/*.js", "tools/chaos/**/*.js"],
    languageOptions: { globals: { __ENV: "readonly", __VU: "readonly", __ITER: "readonly" } }
  },
  {
    files: ["**/test/**", "**/*.test.ts", "**/vitest.config.ts"],
    rules: { "acme/boundaries": ["error", { depConstraints: depConstraints({ tests: true }) }] }
  }
)
