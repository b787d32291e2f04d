export { InventoryApi, ProductsApi, ReservationsApi } from "./Api.ts"
export {
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
export {
  Available,
  CreateReservation,
  maxQuantity,
  maxReservationItems,
  maxStock,
  Product,
  ProductCreated,
  ProductName,
  ProductPage,
  Quantity,
  Reservation,
  ReservationCreated,
  ReservationItem,
  ReservationItemRequest,
  ReservationState,
  SetStock,
  Shortage,
  SkuCurrency,
  StockLevel,
  UpsertProduct
} from "./Schemas.ts"
