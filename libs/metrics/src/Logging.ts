/**
 * JSON logs on stdout, one object per line: timestamp, level, service, message, trace_id,
 * span_id and every log annotation (request_id among them). Written by hand rather than with
 * `Logger.consoleJson` so a line costs one `JSON.stringify`, and so the field names are the ones
 * log pipelines expect. Lines are written to stdout in batches (see {@link batchedStdout}).
 */
import { Array as Arr, Cause, Config, Context, Effect, Layer, Logger, References, Tracer } from "effect"
import { writeSync } from "node:fs"

/** A batch is written once it holds this many characters, without waiting for its turn. */
const maxBatch = 64 * 1024

/**
 * Writes log lines to stdout in batches: the lines of one event-loop turn go out in one write
 * (at the next `setImmediate`), not one write each, so a busy service makes one write system
 * call per turn instead of one per request (profiled on the gateway under load: the per-line
 * write cost about 12 us of CPU per request to a file, 3.5 us batched; more to a pipe). `urgent`
 * lines (errors) flush the batch at once, and whatever is left is written synchronously when the
 * process exits, so no error line is lost to the batching.
 */
export const batchedStdout = (write: (chunk: string) => void = (chunk) => process.stdout.write(chunk)) => {
  let batch = ""
  let scheduled = false
  const flush = () => {
    scheduled = false
    if (batch === "") return
    const chunk = batch
    batch = ""
    write(chunk)
  }
  process.once("exit", () => {
    if (batch !== "") writeSync(1, batch)
    batch = ""
  })
  return (line: string, urgent = false) => {
    batch += line
    if (urgent || batch.length >= maxBatch) return flush()
    if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
  }
}

/**
 * Fields of one log line, written as top-level keys of its JSON object:
 * `Effect.logInfo("request", new LogFields({ status: 200 }))`. For a line written on every
 * request this is the cheap form: `Effect.annotateLogs` around one line replaces the fiber's
 * context twice (in and out); the kit's request log line in this form took about 7% off
 * inventory's CPU per read (`npm run bench -- compare`, see bench/README.md). Annotations
 * remain the way to put a field on every line of a scope (the kit's `request_id`).
 */
export class LogFields {
  readonly fields: Record<string, unknown>
  constructor(fields: Record<string, unknown>) {
    this.fields = fields
  }
}

/** A logger writing one JSON object per line to `write` (stdout by default). */
export const jsonLogger = (
  service: string,
  write: (line: string, urgent: boolean) => void = batchedStdout()
) =>
  Logger.make(({ cause, date, fiber, logLevel, message }) => {
    let text = ""
    let fields: Record<string, unknown> | undefined
    for (const part of Arr.ensure(message)) {
      if (part instanceof LogFields) {
        fields = fields === undefined ? part.fields : { ...fields, ...part.fields }
        continue
      }
      text += (text === "" ? "" : " ") + (typeof part === "string" ? part : JSON.stringify(part))
    }
    const entry: Record<string, unknown> = {
      timestamp: date.toISOString(),
      level: logLevel.toLowerCase(),
      service,
      message: text
    }
    const span = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
    if (span !== undefined) {
      entry.trace_id = span.traceId
      entry.span_id = span.spanId
    }
    const annotations = fiber.getRef(References.CurrentLogAnnotations)
    for (const key in annotations) entry[key] = annotations[key]
    if (fields !== undefined) for (const key in fields) entry[key] = fields[key]
    if (cause.reasons.length > 0) entry.error = Cause.pretty(cause)
    write(JSON.stringify(entry) + "\n", logLevel === "Error" || logLevel === "Fatal")
  })

/**
 * Replaces the default logger with {@link jsonLogger} and sets the minimum level from
 * `LOG_LEVEL` (default `Info`).
 */
export const layerJsonLogger = (
  service: string,
  write?: (line: string, urgent: boolean) => void
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
