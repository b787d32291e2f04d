import type { Migrations } from "@acme/pool"
import products from "./0001_products.ts"
import reservations from "./0002_reservations.ts"
import reservationReturns from "./0003_reservation_returns.ts"

/** The inventory database's migrations, applied in id order at start. */
export const migrations: Migrations = {
  "0001_products": products,
  "0002_reservations": reservations,
  "0003_reservation_returns": reservationReturns
}
