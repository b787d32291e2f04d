import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Logger } from "effect"
import { batchedStdout, jsonLogger, layerJsonLogger, LogFields } from "../src/index.ts"

const capture = () => {
  const lines: Array<Record<string, any>> = []
  return { lines, logger: jsonLogger("svc", (line) => lines.push(JSON.parse(line))) }
}

describe("JSON logs", () => {
  it.effect("a line carries timestamp, level, service, message, annotations, trace and span ids", () => {
    const { lines, logger } = capture()
    return Effect.logInfo("hello", { n: 1 }).pipe(
      Effect.annotateLogs("request_id", "r-1"),
      Effect.withSpan("work"),
      Effect.provide(Logger.layer([logger])),
      Effect.andThen(
        Effect.sync(() => {
          assert.strictEqual(lines.length, 1)
          const [line] = lines
          assert.strictEqual(line.level, "info")
          assert.strictEqual(line.service, "svc")
          assert.strictEqual(line.message, 'hello {"n":1}')
          assert.strictEqual(line.request_id, "r-1")
          assert.match(line.trace_id, /^[0-9a-f]{32}$/)
          assert.match(line.span_id, /^[0-9a-f]{16}$/)
          assert.ok(!Number.isNaN(Date.parse(line.timestamp)))
        })
      )
    )
  })

  it.effect("LogFields are top-level keys of the line, over the annotations, and not in its message", () => {
    const { lines, logger } = capture()
    return Effect.logInfo(
      "request",
      new LogFields({ status: 200, route: "/a" }),
      7,
      new LogFields({ status: 504 })
    ).pipe(
      Effect.annotateLogs({ request_id: "r-1", route: "annotated" }),
      Effect.provide(Logger.layer([logger])),
      Effect.andThen(
        Effect.sync(() => {
          const [line] = lines
          assert.strictEqual(line.message, "request 7")
          assert.strictEqual(line.status, 504)
          assert.strictEqual(line.route, "/a")
          assert.strictEqual(line.request_id, "r-1")
          assert.notProperty(line, "fields")
        })
      )
    )
  })

  it.effect("an error's cause is in the line", () => {
    const { lines, logger } = capture()
    return Effect.fail(new Error("boom")).pipe(
      Effect.tapCause((cause) => Effect.logError("failed", cause)),
      Effect.ignore,
      Effect.provide(Logger.layer([logger])),
      Effect.andThen(Effect.sync(() => assert.match(lines[0].error, /boom/)))
    )
  })

  it.effect("LOG_LEVEL sets the minimum level", () => {
    const lines: Array<Record<string, any>> = []
    return Effect.gen(function* () {
      yield* Effect.logInfo("dropped")
      yield* Effect.logWarning("kept")
    }).pipe(
      Effect.provide(
        layerJsonLogger("svc", (line) => lines.push(JSON.parse(line))).pipe(
          Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ LOG_LEVEL: "Warn" })))
        )
      ),
      Effect.andThen(
        Effect.sync(() =>
          assert.deepStrictEqual(
            lines.map((line) => line.message),
            ["kept"]
          )
        )
      )
    )
  })

  it.effect("lines of one turn are written together; an error line flushes at once", () =>
    Effect.gen(function* () {
      const writes: Array<string> = []
      const logger = jsonLogger(
        "svc",
        batchedStdout((chunk) => writes.push(chunk))
      )
      yield* Effect.gen(function* () {
        yield* Effect.logInfo("one")
        yield* Effect.logInfo("two")
        assert.deepStrictEqual(writes, [], "info lines wait for the end of the turn")
        yield* Effect.logError("three")
      }).pipe(Effect.provide(Logger.layer([logger])))
      assert.strictEqual(writes.length, 1, "the error line took the waiting lines with it")
      assert.deepStrictEqual(
        writes[0]!
          .trimEnd()
          .split("\n")
          .map((line) => JSON.parse(line).message),
        ["one", "two", "three"]
      )
      yield* Effect.logInfo("four").pipe(Effect.provide(Logger.layer([logger])))
      yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
      assert.strictEqual(writes.length, 2)
      assert.strictEqual(JSON.parse(writes[1]!).message, "four")
    })
  )
})
