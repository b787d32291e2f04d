import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  OpenApi
} from "effect/http-api"
import { OrderId, PageQuery, Sku } from "../Common.ts"
import { HealthApi } from "../Health.ts"
import {
  AmountTooLarge,
  InvalidCursor,
  InvalidReservationState,
  MixedCurrencies,
  OutOfStock,
  ProductNotFound,
  ReservationMismatch,
  ReservationNotFound,
  UnknownProducts
} from "./Errors.ts"
import {
  CreateReservation,
  Product,
  ProductCreated,
  ProductPage,
  Reservation,
  ReservationCreated,
  SetStock,
  UpsertProduct
} from "./Schemas.ts"

const skuParams = { sku: Sku }
const reservationParams = { reservationId: OrderId }

/** The catalog with its stock. The two PUTs are admin operations (the gateway checks the scope). */
export class ProductsApi extends HttpApiGroup.make("products")
  .add(
    HttpApiEndpoint.get("list", "/products", {
      query: PageQuery,
      success: ProductPage,
      error: InvalidCursor
    }),
    HttpApiEndpoint.get("get", "/products/:sku", {
      params: skuParams,
      success: Product,
      error: ProductNotFound
    }),
    HttpApiEndpoint.put("upsert", "/products/:sku", {
      params: skuParams,
      payload: UpsertProduct,
      success: [ProductCreated.pipe(HttpApiSchema.status(201)), Product]
    }),
    HttpApiEndpoint.put("setStock", "/products/:sku/stock", {
      params: skuParams,
      payload: SetStock,
      success: Product,
      error: ProductNotFound
    })
  )
  .annotateMerge(OpenApi.annotations({ title: "Products", description: "Catalog and stock levels" })) {}

/**
 * Stock reservations for orders, keyed by the order id: create (all items or none), commit,
 * release, and return (give back the stock of a committed reservation, e.g. a cancelled order).
 * Every call is idempotent: a repeat answers what the first call did.
 */
export class ReservationsApi extends HttpApiGroup.make("reservations")
  .add(
    HttpApiEndpoint.post("create", "/reservations", {
      payload: CreateReservation,
      success: [ReservationCreated.pipe(HttpApiSchema.status(201)), Reservation],
      error: [OutOfStock, ReservationMismatch, UnknownProducts, MixedCurrencies, AmountTooLarge]
    }),
    HttpApiEndpoint.get("get", "/reservations/:reservationId", {
      params: reservationParams,
      success: Reservation,
      error: ReservationNotFound
    }),
    HttpApiEndpoint.post("commit", "/reservations/:reservationId/commit", {
      params: reservationParams,
      success: Reservation,
      error: [ReservationNotFound, InvalidReservationState]
    }),
    HttpApiEndpoint.post("release", "/reservations/:reservationId/release", {
      params: reservationParams,
      success: Reservation,
      error: [ReservationNotFound, InvalidReservationState]
    }),
    HttpApiEndpoint.post("return", "/reservations/:reservationId/return", {
      params: reservationParams,
      success: Reservation,
      error: [ReservationNotFound, InvalidReservationState]
    })
  )
  .annotateMerge(
    OpenApi.annotations({ title: "Reservations", description: "Stock held for orders until committed" })
  ) {}

/** The HTTP API of the inventory service. */
export class InventoryApi extends HttpApi.make("inventory")
  .add(HealthApi)
  .add(ProductsApi)
  .add(ReservationsApi)
  .middleware(HttpApiMiddleware.ProblemDetails)
  // A 400 names every invalid field of a request, not just the first.
  .annotate(HttpApi.ParseOptions, { errors: "all" })
  .annotateMerge(OpenApi.annotations({ title: "inventory service", version: "0.1.0" })) {}
