/**
 * The settings every service's HTTP server reads from the environment at start.
 *
 * Timeouts are chosen so that a load balancer in front can always use a shorter idle timeout
 * than ours: a connection is only ever closed by the side that stops using it first, so a proxy
 * never sends a request down a connection we are closing (which clients see as a 502).
 * - KEEP_ALIVE_TIMEOUT 65s: above the 60s idle timeout common load balancers use.
 * - HEADERS_TIMEOUT 66s: above the keep-alive timeout, so a request that starts at the end of
 *   the idle window is not cut while its headers arrive.
 * - Node's own receive timeout (requestTimeout) is set to HEADERS_TIMEOUT + 30s: Node requires it
 *   to be at least the headers timeout; it bounds slow uploads.
 * - REQUEST_TIMEOUT 10s: how long a handler may take before we answer 504 and interrupt it.
 * - SHUTDOWN_DRAIN_DELAY 5s: after SIGTERM, readiness is 503 for this long while requests are
 *   still served, so load balancers stop routing to us before we stop accepting.
 * - SHUTDOWN_TIMEOUT 20s: how long in-flight requests may take to finish once we stop accepting.
 * - ADMIN_PORT (default PORT + 1000, or an ephemeral port when PORT is 0): the admin server's
 *   port, /metrics and the profiles (see Admin.ts); never exposed publicly.
 */
import { ByteSize, Config, Context, Duration, Effect, Layer } from "effect"

export class ServerConfig extends Context.Service<
  ServerConfig,
  {
    readonly host: string
    readonly port: number
    readonly adminPort: number
    readonly bodyLimit: ByteSize.ByteSize
    readonly requestTimeout: Duration.Duration
    readonly keepAliveTimeout: Duration.Duration
    readonly headersTimeout: Duration.Duration
    readonly drainDelay: Duration.Duration
    readonly shutdownTimeout: Duration.Duration
    /** SO_REUSEPORT: a new instance may listen on the ports (public and admin) before the old one stops. */
    readonly reusePort: boolean
  }
>()("server/ServerConfig") {
  /** Reads the settings from the environment; `port` is the service's default port. */
  static readonly layer = (defaults: { readonly port: number }) =>
    Layer.effect(
      ServerConfig,
      Effect.gen(function* () {
        const port = yield* Config.Port("PORT").pipe(Config.withDefault(defaults.port))
        return ServerConfig.of({
          host: yield* Config.String("HOST").pipe(Config.withDefault("0.0.0.0")),
          port,
          adminPort: yield* Config.Port("ADMIN_PORT").pipe(Config.withDefault(port === 0 ? 0 : port + 1000)),
          bodyLimit: yield* Config.ByteSize("BODY_LIMIT").pipe(Config.withDefault(ByteSize.mebibytes(1))),
          requestTimeout: yield* Config.Duration("REQUEST_TIMEOUT").pipe(
            Config.withDefault(Duration.seconds(10))
          ),
          keepAliveTimeout: yield* Config.Duration("KEEP_ALIVE_TIMEOUT").pipe(
            Config.withDefault(Duration.seconds(65))
          ),
          headersTimeout: yield* Config.Duration("HEADERS_TIMEOUT").pipe(
            Config.withDefault(Duration.seconds(66))
          ),
          drainDelay: yield* Config.Duration("SHUTDOWN_DRAIN_DELAY").pipe(
            Config.withDefault(Duration.seconds(5))
          ),
          shutdownTimeout: yield* Config.Duration("SHUTDOWN_TIMEOUT").pipe(
            Config.withDefault(Duration.seconds(20))
          ),
          reusePort: yield* Config.Boolean("REUSE_PORT").pipe(Config.withDefault(false))
        })
      })
    )
}
