import { NumberFromInt8 } from "@acme/pool"
/**
 * SQL for order events. An event is written by the statement that ends the order's saga
 * (`recording`: common table expressions for it to carry), and takes the next number from the
 * counter row, whose lock it holds until that transaction commits: numbers therefore become
 * visible in increasing order, and a consumer reading "after N" never misses an event that
 * commits later with a smaller number. It is the last statement of a saga step's transaction,
 * so the counter is held only for the commit.
 */
import type { OrderEvent } from "@acme/contracts/order"
import { OrderEvent as OrderEventSchema, OrderReason } from "@acme/contracts/order"
import { Context, Effect, Layer, Schema } from "effect"
import { SqlClient } from "effect/sql"
import type { Statement } from "effect/sql"

export type NewEvent = Omit<OrderEvent, "sequence" | "occurredAt">

const Row = Schema.Struct({
  sequence: NumberFromInt8,
  type: OrderEventSchema.fields.type,
  order_id: OrderEventSchema.fields.orderId,
  customer_id: OrderEventSchema.fields.customerId,
  status: OrderEventSchema.fields.status,
  reason: Schema.NullOr(OrderReason),
  occurred_at: Schema.Date
})
const decodeRows = Schema.decodeUnknownEffect(Schema.Array(Row))

export class EventsRepo extends Context.Service<
  EventsRepo,
  {
    /** Writes an event: common table expressions for a statement of the caller's transaction. */
    readonly recording: (event: NewEvent) => ReadonlyArray<Statement.Fragment>
    /** Up to `limit` events numbered above `after`, in order. */
    readonly list: (after: number, limit: number) => Effect.Effect<ReadonlyArray<OrderEvent>>
  }
>()("order/EventsRepo") {
  static readonly layer = Layer.effect(
    EventsRepo,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient

      const recording = (event: NewEvent) => [
        sql`order_event_number AS (
          UPDATE order_event_counter SET last = last + 1 WHERE id RETURNING last
        )`,
        sql`order_event AS (
          INSERT INTO order_events (sequence, type, order_id, customer_id, status, reason)
          SELECT last, ${event.type}, ${event.orderId}::uuid, ${event.customerId}, ${event.status},
                 ${event.reason ?? null}
          FROM order_event_number
        )`
      ]

      const list = (after: number, limit: number) =>
        sql`
          SELECT sequence, type, order_id, customer_id, status, reason, occurred_at
          FROM order_events WHERE sequence > ${after}
          ORDER BY sequence
          LIMIT ${limit}
        `.pipe(
          Effect.flatMap(decodeRows),
          Effect.map((rows) =>
            rows.map((row): OrderEvent => ({
              sequence: row.sequence,
              type: row.type,
              orderId: row.order_id,
              customerId: row.customer_id,
              status: row.status,
              ...(row.reason === null ? {} : { reason: row.reason }),
              occurredAt: row.occurred_at.toISOString()
            }))
          ),
          Effect.orDie
        )

      return EventsRepo.of({ recording, list })
    })
  )
}
