/**
 * The console of the stack: its own progress lines (`[stack] ...`) and the services' log lines
 * (`[order] ...`), JSON log entries shortened to `level message key=value...`.
 */
const colour = process.stdout.isTTY && !process.env["NO_COLOR"]
const paint = (code: number) => (text: string) => (colour ? `\x1b[${code}m${text}\x1b[0m` : text)
export const bold = paint(1)
export const dim = paint(2)
const red = paint(31)
const yellow = paint(33)
const prefixColours = [paint(36), paint(35), paint(34), paint(32), paint(33)]

const prefixes = new Map<string, string>()
const prefixOf = (source: string) => {
  let prefix = prefixes.get(source)
  if (prefix === undefined) {
    prefix = prefixColours[prefixes.size % prefixColours.length]!(`[${source}]`)
    prefixes.set(source, prefix)
  }
  return prefix
}

// A closed terminal (SIGHUP) must not crash the shutdown that follows.
process.stdout.on("error", () => {})

/** Prints `text` (one or more lines), each line prefixed with `[source]`. */
export const print = (source: string, text: string) => {
  const prefix = prefixOf(source)
  process.stdout.write(
    text
      .split("\n")
      .map((line) => `${prefix} ${line}\n`)
      .join("")
  )
}

/** A progress line of the stack itself. */
export const say = (text: string) => print("stack", text)
export const warn = (text: string) => print("stack", red(text))

/** Time since `start` (a `performance.now()`), e.g. `85 ms` or `1.3 s`. */
export const since = (start: number) => {
  const ms = performance.now() - start
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`
}

/** A service's log line, parsed if it is a JSON log entry. */
export interface LogLine {
  readonly text: string
  readonly stderr: boolean
  readonly entry?: Record<string, unknown>
}

export const parseLine = (text: string, stderr: boolean): LogLine => {
  if (text.startsWith("{")) {
    try {
      const entry: unknown = JSON.parse(text)
      if (typeof entry === "object" && entry !== null && !Array.isArray(entry))
        return { text, stderr, entry: entry as Record<string, unknown> }
    } catch {
      // not JSON after all
    }
  }
  return { text, stderr }
}

const important = new Set(["warn", "warning", "error", "fatal"])

/**
 * What the console shows without `--verbose`: warnings and errors, the "listening on" line, and
 * anything on stderr that is not a JSON entry (crashes, runtime warnings).
 */
export const isImportant = ({ entry, stderr }: LogLine): boolean =>
  entry === undefined
    ? stderr
    : important.has(String(entry["level"])) || String(entry["message"]).startsWith("listening on")

const omitted = new Set(["timestamp", "level", "service", "message", "error", "trace_id", "span_id"])

/** `warn message key=value ...` for a JSON entry, then its `error` (a pretty cause) below. */
export const formatLine = ({ text, entry }: LogLine): string => {
  if (entry === undefined) return text
  const level = String(entry["level"] ?? "")
  const label =
    level === "error" || level === "fatal" ? red(level) : important.has(level) ? yellow(level) : dim(level)
  const fields = Object.entries(entry)
    .filter(([key]) => !omitted.has(key))
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
  const error = typeof entry["error"] === "string" ? `\n${entry["error"]}` : ""
  return [label, String(entry["message"] ?? ""), ...fields].join(" ") + error
}
