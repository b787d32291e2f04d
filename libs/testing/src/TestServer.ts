/**
 * A service's contract served in-process on an ephemeral port, exactly as in production (the
 * service kit's middleware, problem+json, health), for HTTP tests through the client derived
 * from the same contract:
 *
 * ```ts
 * layer(TestServer.layer({ api: InventoryApi, handlers }))("inventory", (it) => {
 *   it.effect("...", () => Effect.gen(function* () {
 *     const client = yield* HttpApiClient.make(InventoryApi)
 *   }))
 * })
 * ```
 * The layer also provides `HttpClient`, whose relative URLs go to the server, for requests the
 * derived client cannot make (malformed JSON, unknown routes).
 */
import { Service } from "@acme/server"
import { Layer } from "effect"
import type { HttpApi, HttpApiGroup } from "effect/http-api"

export const layer = <Id extends string, Groups extends HttpApiGroup.Constraint, E, R>(options: {
  readonly api: HttpApi.HttpApi<Id, Groups>
  readonly handlers: Layer.Layer<
    Exclude<HttpApiGroup.ToService<Id, Groups>, HttpApiGroup.Service<Id, "health">>,
    E,
    R
  >
  /** Settings the service would read from its environment (e.g. `REQUEST_TIMEOUT`). */
  readonly env?: Record<string, string>
  /** Receives each JSON log line; dropped when absent. */
  readonly log?: (line: string) => void
}) => {
  const platform = Service.platformTest({
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.log === undefined ? {} : { log: options.log })
  })
  return Service.layerTestClient.pipe(
    Layer.provideMerge(Service.serve(options)),
    Layer.provideMerge(platform)
  )
}
