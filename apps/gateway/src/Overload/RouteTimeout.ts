/**
 * A time budget per operation: reads get `ROUTE_TIMEOUT_READ`, writes `ROUTE_TIMEOUT_WRITE`
 * (placing an order waits for the order's outcome for a while). Past it the work is interrupted,
 * its downstream call aborted, and the client gets 504. The kit's `REQUEST_TIMEOUT` stays the
 * outer bound for everything else. A client that disconnects interrupts the work the same way (the
 * service kit interrupts the request).
 */
import { GatewayTimeout, RouteTimeout } from "@acme/contracts/gateway"
import { Timeout } from "@acme/server"
import { Duration, Effect, Layer } from "effect"
import * as Settings from "../Settings.ts"

export const RouteTimeoutLive = Layer.effect(
  RouteTimeout,
  Effect.gen(function* () {
    const { readTimeout, writeTimeout } = yield* Settings.overload
    const timeouts = [readTimeout, writeTimeout].map((budget) => ({
      budget,
      error: Effect.fail(new GatewayTimeout({ detail: `No response within ${Duration.format(budget)}` }))
    }))
    return RouteTimeout.of((httpEffect, { endpoint }) => {
      const { budget, error } = timeouts[endpoint.method === "GET" ? 0 : 1]!
      return Timeout.orElse(httpEffect, { duration: budget, orElse: () => error })
    })
  })
)
