/**
 * OpenTelemetry tracing. Spans are always made (their ids are in every log line and problem);
 * they are exported over OTLP/HTTP only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (standard
 * OpenTelemetry variables: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_SDK_DISABLED`, ...), and
 * nothing touches the network otherwise. `OTEL_TRACES_SAMPLER_ARG` (0..1, default 1) samples
 * that share of new traces; a request that arrives with a W3C `traceparent` follows its
 * caller's decision, so a trace is exported whole or not at all.
 */
import { Config, Effect, Layer, Option, Random, Schema, Tracer } from "effect"
import { FetchHttpClient } from "effect/http"
import { OtlpSerialization, OtlpTracer } from "effect/observability"

/** Parent-based ratio sampling: a root span is sampled with probability `ratio`. */
export const withSampling = (tracer: Tracer.Tracer, ratio: number): Tracer.Tracer => {
  if (ratio >= 1) return tracer
  const random = Random.Random.defaultValue()
  return {
    context: tracer.context,
    span(options) {
      const sampled = Option.isNone(options.parent)
        ? options.sampled && random.nextDoubleUnsafe() < ratio
        : options.sampled
      return tracer.span({ ...options, sampled })
    }
  }
}

/** Where traces go: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`. */
const tracesEndpoint = Config.String("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").pipe(
  Config.orElse(() =>
    Config.String("OTEL_EXPORTER_OTLP_ENDPOINT").pipe(
      Config.map((base) => base.replace(/\/?$/, "/v1/traces"))
    )
  ),
  Config.option
)

/** The tracer of a service: OTLP export when configured, sampling from the environment. */
export const layerTracing = (service: string) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const { disabled, endpoint, protocol, ratio } = yield* Config.all({
        disabled: Config.Boolean("OTEL_SDK_DISABLED").pipe(Config.withDefault(false)),
        endpoint: tracesEndpoint,
        protocol: Config.Literals(["http/protobuf", "http/json"], "OTEL_EXPORTER_OTLP_PROTOCOL").pipe(
          Config.withDefault("http/protobuf")
        ),
        ratio: Config.schema(
          Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 })),
          "OTEL_TRACES_SAMPLER_ARG"
        ).pipe(Config.withDefault(1))
      })
      if (disabled || Option.isNone(endpoint)) return Layer.empty
      const exporter = OtlpTracer.layer({ url: endpoint.value, resource: { serviceName: service } }).pipe(
        Layer.provide(
          protocol === "http/json" ? OtlpSerialization.layerJson : OtlpSerialization.layerProtobuf
        ),
        Layer.provide(FetchHttpClient.layer)
      )
      const sampling = Layer.effect(
        Tracer.Tracer,
        Effect.map(Effect.tracer, (tracer) => withSampling(tracer, ratio))
      )
      return Layer.provideMerge(sampling, exporter)
    })
  )
