import { assert, describe, it } from "@effect/vitest"
import { Effect, Tracer } from "effect"
import { withSampling } from "../src/index.ts"

/** Records whether each span the sampler lets through is sampled. */
const recording = () => {
  const decisions: Array<boolean> = []
  const inner = Tracer.make({
    span: (options) => {
      decisions.push(options.sampled)
      return new Tracer.NativeSpan(options)
    }
  })
  return { decisions, inner }
}

describe("sampling", () => {
  it.effect("ratio 0 samples no new trace, ratio 1 every one", () =>
    Effect.gen(function* () {
      for (const [ratio, expected] of [
        [0, false],
        [1, true]
      ] as const) {
        const { decisions, inner } = recording()
        yield* Effect.void.pipe(Effect.withSpan("root"), Effect.withTracer(withSampling(inner, ratio)))
        assert.deepStrictEqual(decisions, [expected])
      }
    })
  )

  it.effect("about `ratio` of new traces are sampled", () =>
    Effect.gen(function* () {
      const { decisions, inner } = recording()
      const tracer = withSampling(inner, 0.1)
      for (let i = 0; i < 2000; i++)
        yield* Effect.void.pipe(Effect.withSpan("root"), Effect.withTracer(tracer))
      const share = decisions.filter(Boolean).length / decisions.length
      assert.isAbove(share, 0.06)
      assert.isBelow(share, 0.14)
    })
  )

  it.effect("a span with a parent follows the parent's decision", () =>
    Effect.gen(function* () {
      const { decisions, inner } = recording()
      const tracer = withSampling(inner, 0)
      const parent = Tracer.externalSpan({ traceId: "a".repeat(32), spanId: "b".repeat(16), sampled: true })
      yield* Effect.void.pipe(Effect.withSpan("child", { parent }), Effect.withTracer(tracer))
      assert.deepStrictEqual(decisions, [true])
    })
  )
})
