import { OrderApi } from "@acme/contracts/order"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { EventsRepo } from "./EventsRepo.ts"

/** How many events a page holds when the consumer does not say. */
export const defaultEventPageSize = 100

/**
 * The event feed: the events after `after` (default 0), at most `limit` (default 100), and the
 * number to pass as `after` next (the last one returned, or `after` itself when none are new).
 */
export const EventsHttp = HttpApiBuilder.group(
  OrderApi,
  "events",
  Effect.fn(function* (handlers) {
    const events = yield* EventsRepo
    return handlers.handle("list", ({ query }) =>
      Effect.gen(function* () {
        const after = query.after ?? 0
        const items = yield* events.list(after, query.limit ?? defaultEventPageSize)
        return { items, last: items.length === 0 ? after : items[items.length - 1].sequence }
      }).pipe(Effect.withSpan("Events.list"))
    )
  })
)
