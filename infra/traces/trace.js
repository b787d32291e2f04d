// Run inside the compose network (`node -` in a service container, see infra/traces/check.sh):
// reads the trace TRACE_ID from Jaeger's query API (JAEGER_URL) and checks that it is one
// trace from the gateway through order and its outbox relay to inventory and payment. Retries
// for up to 60 s (the collector batches for 2 s, the relay delivers asynchronously), then
// prints the path it found, or what is missing, and exits 1.
const traceId = process.env.TRACE_ID
const url = `${process.env.JAEGER_URL ?? "http://jaeger:16686"}/api/traces/${traceId}`

const examine = (trace) => {
  const service = (span) => trace.processes[span.processID]?.serviceName
  const byId = new Map(trace.spans.map((span) => [span.spanID, span]))
  const parent = (span) => byId.get(span.references?.find((r) => r.refType === "CHILD_OF")?.spanID)
  const ancestors = (span) => {
    const chain = []
    for (let p = parent(span); p !== undefined; p = parent(p)) chain.push(p)
    return chain
  }
  const label = (span) => `${service(span)} ${span.operationName}`
  const services = [...new Set(trace.spans.map(service))].sort()
  const missing = []
  const paths = []
  for (const downstream of ["inventory", "payment"]) {
    // A server span of the downstream whose ancestors include the relay and, above it, the gateway.
    const found = trace.spans.find((span) => {
      if (service(span) !== downstream) return false
      const up = ancestors(span)
      const relay = up.findIndex((s) => service(s) === "order" && s.operationName === "Outbox.deliver")
      return relay >= 0 && up.slice(relay).some((s) => service(s) === "gateway")
    })
    if (found === undefined)
      missing.push(`no ${downstream} span under order's Outbox.deliver under the gateway`)
    else paths.push([...ancestors(found).reverse(), found].map(label).join(" -> "))
  }
  return { services, missing, paths, spans: trace.spans.length }
}

const deadline = Date.now() + 60_000
let last = "no answer from Jaeger yet"
for (;;) {
  try {
    const response = await fetch(url)
    if (response.ok) {
      const body = await response.json()
      const trace = body.data?.[0]
      if (trace !== undefined) {
        const result = examine(trace)
        if (result.missing.length === 0) {
          console.log(`trace ${traceId}: ${result.spans} spans, services ${result.services.join(", ")}`)
          for (const path of result.paths) console.log(`  ${path}`)
          process.exit(0)
        }
        last = `trace ${traceId}: ${result.spans} spans, services ${result.services.join(", ")}; ${result.missing.join("; ")}`
      }
    } else last = `Jaeger answered ${response.status} for ${url}`
  } catch (error) {
    last = `Jaeger: ${error.message}`
  }
  if (Date.now() > deadline) break
  await new Promise((resolve) => setTimeout(resolve, 2_000))
}
console.log(last)
process.exit(1)
