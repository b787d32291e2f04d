/** Writes the OpenAPI document to `apps/gateway/openapi.json`: `npm run openapi -w @acme/gateway`. */
import { writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { renderSpec, specFile } from "./Spec.ts"

writeFileSync(specFile, renderSpec())
console.log(`wrote ${fileURLToPath(specFile)}`)
