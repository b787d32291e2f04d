/**
 * The OpenAPI 3.1 document of the public API, generated from the contract: the same document
 * the gateway serves at `/openapi.json` and Swagger UI renders at `/docs`. A copy is committed
 * as `apps/gateway/openapi.json` (written by `npm run openapi -w @acme/gateway`), so API changes
 * show up in review as a diff of the document; a test fails when the copy is stale.
 */
import { GatewayApi } from "@acme/contracts/gateway"
import { OpenApi } from "effect/http-api"

/** Where the committed copy lives. */
export const specFile = new URL("../openapi.json", import.meta.url)

/** The document as it is committed: 2-space JSON with a final newline. */
export const renderSpec = (): string => `${JSON.stringify(OpenApi.fromApi(GatewayApi), null, 2)}\n`
