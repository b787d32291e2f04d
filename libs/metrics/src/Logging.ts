/**
 * JSON logs on stdout, one object per line: timestamp, level, service, message, trace_id,
 * span_id and every log annotation (request_id among them). Written by hand rather than with
 * `Logger.consoleJson` so a line costs one `JSON.stringify` and one write, and so the field
 * names are the ones log pipelines expect.
 */
import { Array as Arr, Cause, Config, Context, Effect, Layer, Logger, References, Tracer } from "effect"

const render = (message: unknown): string => {
  const parts = Arr.ensure(message)
  return parts.map((part) => (typeof part === "string" ? part : JSON.stringify(part))).join(" ")
}

/** A logger writing one JSON object per line to `write` (stdout by default). */
export const jsonLogger = (
  service: string,
  write: (line: string) => void = (line) => process.stdout.write(line)
) =>
  Logger.make(({ cause, date, fiber, logLevel, message }) => {
    const entry: Record<string, unknown> = {
      timestamp: date.toISOString(),
      level: logLevel.toLowerCase(),
      service,
      message: render(message)
    }
    const span = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
    if (span !== undefined) {
      entry.trace_id = span.traceId
      entry.span_id = span.spanId
    }
    const annotations = fiber.getRef(References.CurrentLogAnnotations)
    for (const key in annotations) entry[key] = annotations[key]
    if (cause.reasons.length > 0) entry.error = Cause.pretty(cause)
    write(JSON.stringify(entry) + "\n")
  })

/**
 * Replaces the default logger with {@link jsonLogger} and sets the minimum level from
 * `LOG_LEVEL` (default `Info`).
 */
export const layerJsonLogger = (
  service: string,
  write?: (line: string) => void
): Layer.Layer<never, Config.ConfigError> =>
  Layer.mergeAll(
    Logger.layer([jsonLogger(service, write)]),
    Layer.effect(
      References.MinimumLogLevel,
      Effect.gen(function* () {
        return yield* Config.LogLevel("LOG_LEVEL").pipe(Config.withDefault("Info"))
      })
    )
  )
