import { HealthApi, problemFields, problemType } from "@acme/contracts"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { HttpClient } from "effect/http"
import {
  HttpApi,
  HttpApiBuilder,
  HttpApiClient,
  HttpApiEndpoint,
  HttpApiError,
  HttpApiGroup,
  HttpApiMiddleware
} from "effect/http-api"
import { TestServer } from "../src/index.ts"

class NoSuchGadget extends HttpApiError.Problem<NoSuchGadget>()(
  "NoSuchGadget",
  { type: problemType("no-such-gadget"), status: 404, title: "No such gadget" },
  { ...problemFields, id: Schema.String }
) {}

class Gadgets extends HttpApiGroup.make("gadgets").add(
  HttpApiEndpoint.get("get", "/gadgets/:id", {
    params: { id: Schema.String },
    success: Schema.Struct({ id: Schema.String }),
    error: NoSuchGadget
  })
) {}

class GadgetApi extends HttpApi.make("gadgets")
  .add(HealthApi)
  .add(Gadgets)
  .middleware(HttpApiMiddleware.ProblemDetails) {}

const handlers = HttpApiBuilder.group(GadgetApi, "gadgets", (h) =>
  h.handle("get", ({ params }) =>
    params.id === "g1" ? Effect.succeed({ id: "g1" }) : Effect.fail(new NoSuchGadget({ id: params.id }))
  )
)

describe("TestServer", () => {
  layer(TestServer.layer({ api: GadgetApi, handlers }))("through the derived client", (it) => {
    it.effect("a success decodes", () =>
      Effect.gen(function* () {
        const client = yield* HttpApiClient.make(GadgetApi)
        assert.deepStrictEqual(yield* client.gadgets.get({ params: { id: "g1" } }), { id: "g1" })
      })
    )

    it.effect("a contract error arrives typed, with the kit's instance, traceId and requestId", () =>
      Effect.gen(function* () {
        const client = yield* HttpApiClient.make(GadgetApi)
        const error = yield* Effect.flip(client.gadgets.get({ params: { id: "nope" } }))
        assert.instanceOf(error, NoSuchGadget)
        if (!(error instanceof NoSuchGadget)) return
        assert.strictEqual(error.id, "nope")
        assert.strictEqual(error.status, 404)
        assert.strictEqual(error.instance, "/gadgets/nope")
        assert.isString(error.traceId)
        assert.isString(error.requestId)
      })
    )

    it.effect("the raw HttpClient reaches the same server", () =>
      Effect.gen(function* () {
        const response = yield* HttpClient.get("/health/live")
        assert.strictEqual(response.status, 200)
      })
    )
  })
})
