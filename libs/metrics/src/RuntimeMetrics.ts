/**
 * Runtime metrics of the process, with OpenTelemetry runtime semantic-convention names
 * (`nodejs.*`, `v8js.*`, `process.*`), read when they are scraped. Prometheus names (from the
 * admin port's `/metrics`), each with its unit as the exposition adds it:
 *
 * | metric                                          | type      | what                                                |
 * | ----------------------------------------------- | --------- | --------------------------------------------------- |
 * | `nodejs_eventloop_delay_{p50,p99,max}_seconds`  | gauge     | event loop delay since the previous scrape          |
 * | `nodejs_eventloop_utilization`                  | gauge     | share of time the loop was busy since the previous scrape |
 * | `v8js_memory_heap_used_bytes`                   | gauge     | V8 heap in use, by `v8js_heap_space_name`           |
 * | `v8js_memory_heap_limit_bytes`                  | gauge     | V8 heap reserved (total), by `v8js_heap_space_name` |
 * | `v8js_gc_duration_seconds`                      | histogram | garbage collections, by `v8js_gc_type`              |
 * | `process_memory_usage_bytes`                    | gauge     | resident set size                                   |
 * | `nodejs_active_handles`                         | gauge     | handles keeping the loop alive (sockets, timers...) by `nodejs_handle_type`; not in the conventions yet |
 *
 * What a runtime does not offer is left out rather than reported as zero: Deno's Node
 * compatibility has stubs for the loop-delay monitor, loop utilization and GC entries, so on Deno
 * only memory and handles are reported.
 */
import { Context, Effect, Layer, Metric } from "effect"
import { monitorEventLoopDelay, performance, PerformanceObserver } from "node:perf_hooks"
import type { EventLoopUtilization } from "node:perf_hooks"
import * as v8 from "node:v8"

const loopDelay = {
  p50: Metric.gauge("nodejs.eventloop.delay.p50", {
    description: "Event loop delay, 50th percentile, seconds"
  }),
  p99: Metric.gauge("nodejs.eventloop.delay.p99", {
    description: "Event loop delay, 99th percentile, seconds"
  }),
  max: Metric.gauge("nodejs.eventloop.delay.max", { description: "Event loop delay, maximum, seconds" })
}
const loopUtilization = Metric.gauge("nodejs.eventloop.utilization", {
  description: "Share of time the event loop was busy"
})
const heapUsed = Metric.gauge("v8js.memory.heap.used", { description: "V8 heap memory used, bytes" })
const heapLimit = Metric.gauge("v8js.memory.heap.limit", { description: "V8 heap memory reserved, bytes" })
const rss = Metric.gauge("process.memory.usage", {
  description: "Physical memory in use (resident set size), bytes"
})
const activeHandles = Metric.gauge("nodejs.active_handles", {
  description: "Handles keeping the event loop alive, by type"
})
/** GC pauses are short: buckets from 0.1 ms to 1 s. */
const gcDuration = Metric.histogram("v8js.gc.duration", {
  description: "Garbage collection duration in seconds",
  boundaries: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]
})

/** `kind` of a `gc` performance entry (NODE_PERFORMANCE_GC_*) to the convention's `v8js.gc.type`. */
const gcTypes: Record<number, string> = { 1: "minor", 2: "minor", 4: "major", 8: "incremental", 16: "weakcb" }

const isDeno = "Deno" in globalThis

/** Runs `f` where the runtime implements it for real (not on Deno), else gives undefined. */
const attempt = <A>(f: () => A): A | undefined => {
  if (isDeno) return undefined
  try {
    return f()
  } catch {
    return undefined
  }
}

/**
 * The Prometheus name of a metric: dots become underscores (the exposition does that) and the
 * unit is appended, as the OpenTelemetry-to-Prometheus mapping does: `*.duration` and the loop
 * delays are in seconds, memory in bytes.
 */
export const prometheusName = (name: string): string => {
  if (name.endsWith(".duration") || name.startsWith("nodejs.eventloop.delay.")) return `${name}_seconds`
  if (name.startsWith("v8js.memory.") || name === "process.memory.usage") return `${name}_bytes`
  return name
}

/**
 * Watches the runtime while the layer lives (a loop-delay monitor, a GC observer) and gives the
 * collector that `/metrics` runs before each exposition, so gauges are read when scraped and
 * cost nothing between scrapes.
 */
export class RuntimeMetrics extends Context.Service<
  RuntimeMetrics,
  { readonly collect: Effect.Effect<void> }
>()("metrics/RuntimeMetrics") {
  static readonly layer = Layer.effect(
    RuntimeMetrics,
    Effect.gen(function* () {
      const delay = yield* Effect.acquireRelease(
        Effect.sync(() =>
          attempt(() => {
            const histogram = monitorEventLoopDelay({ resolution: 10 })
            histogram.enable()
            return histogram
          })
        ),
        (histogram) => Effect.sync(() => histogram?.disable())
      )
      const context = yield* Effect.context<never>()
      yield* Effect.acquireRelease(
        Effect.sync(() =>
          attempt(() => {
            const observer = new PerformanceObserver((list) => {
              for (const entry of list.getEntries()) {
                const kind = (entry as { detail?: { kind?: number } }).detail?.kind ?? 0
                Metric.withAttributes(gcDuration, { "v8js.gc.type": gcTypes[kind] ?? "other" }).updateUnsafe(
                  entry.duration / 1000,
                  context
                )
              }
            })
            observer.observe({ entryTypes: ["gc"] })
            return observer
          })
        ),
        (observer) => Effect.sync(() => observer?.disconnect())
      )
      let utilization: EventLoopUtilization | undefined = attempt(() => performance.eventLoopUtilization())

      const handleTypes = new Set<string>()
      const collect = Effect.sync(() => {
        if (delay !== undefined && delay.count > 0) {
          loopDelay.p50.updateUnsafe(delay.percentile(50) / 1e9, context)
          loopDelay.p99.updateUnsafe(delay.percentile(99) / 1e9, context)
          loopDelay.max.updateUnsafe(delay.max / 1e9, context)
          delay.reset()
        }
        if (utilization !== undefined) {
          const now = performance.eventLoopUtilization()
          loopUtilization.updateUnsafe(
            performance.eventLoopUtilization(now, utilization).utilization,
            context
          )
          utilization = now
        }
        for (const space of v8.getHeapSpaceStatistics()) {
          const attributes = { "v8js.heap.space.name": space.space_name }
          Metric.withAttributes(heapUsed, attributes).updateUnsafe(space.space_used_size, context)
          Metric.withAttributes(heapLimit, attributes).updateUnsafe(space.space_size, context)
        }
        rss.updateUnsafe(process.memoryUsage.rss(), context)
        const handles = process.getActiveResourcesInfo?.()
        if (handles !== undefined) {
          // Types seen before and gone now are reported as 0, not left at their last count.
          const byType = new Map<string, number>([...handleTypes].map((type) => [type, 0]))
          for (const type of handles) byType.set(type, (byType.get(type) ?? 0) + 1)
          for (const [type, count] of byType) {
            handleTypes.add(type)
            Metric.withAttributes(activeHandles, { "nodejs.handle.type": type }).updateUnsafe(count, context)
          }
        }
      })
      return RuntimeMetrics.of({ collect })
    })
  )
}
