import { InventoryApi, ReservationCreated } from "@acme/contracts/inventory"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Reservations } from "./Reservations.ts"

/** The reservation endpoints; a create answers 201 when it reserved, 200 when it repeated. */
export const ReservationsHttp = HttpApiBuilder.group(
  InventoryApi,
  "reservations",
  Effect.fn(function* (handlers) {
    const reservations = yield* Reservations
    return handlers
      .handle("create", ({ payload }) =>
        reservations
          .create(payload)
          .pipe(
            Effect.map(({ created, reservation }) =>
              created ? new ReservationCreated(reservation) : reservation
            )
          )
      )
      .handle("get", ({ params }) => reservations.get(params.reservationId))
      .handle("commit", ({ params }) => reservations.commit(params.reservationId))
      .handle("release", ({ params }) => reservations.release(params.reservationId))
      .handle("return", ({ params }) => reservations.return(params.reservationId))
  })
)
