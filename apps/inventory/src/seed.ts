/**
 * Demo products for local use, inserted at start when `SEED_DEMO_DATA=true`. Only missing SKUs
 * are inserted, so a restart never overwrites a product (or its stock) changed since.
 */
import type { Product } from "@acme/contracts/inventory"
import { Sku } from "@acme/contracts"
import { Effect, Layer } from "effect"
import { ProductsRepo } from "./Products/ProductsRepo.ts"
import { seedDemoData } from "./Settings.ts"

const eur = (amount: number) => ({ amount, currency: "EUR" })

const product = (sku: string, name: string, cents: number, available: number): Product => ({
  sku: Sku.make(sku),
  name,
  price: eur(cents),
  available
})

export const demoProducts: ReadonlyArray<Product> = [
  product("BOLT-M8", "Hex bolt M8 x 40, zinc plated (50 pcs)", 1290, 500),
  product("NUT-M8", "Hex nut M8, zinc plated (100 pcs)", 790, 800),
  product("WASHER-M8", "Flat washer M8 (100 pcs)", 490, 1000),
  product("SCREW-4X40", "Wood screw 4 x 40 mm, Torx (200 pcs)", 1590, 300),
  product("ANCHOR-8", "Nylon wall anchor 8 mm (50 pcs)", 690, 400),
  product("DRILL-HSS-8", "HSS drill bit 8 mm", 450, 150),
  product("TAPE-DUCT-50", "Duct tape 50 mm x 25 m", 899, 120),
  product("GLOVES-L", "Work gloves, size L", 1250, 80),
  product("HAMMER-500", "Claw hammer 500 g", 2490, 40),
  product("LEVEL-60", "Spirit level 60 cm", 3490, 25)
]

/** Inserts the demo products that are missing when `SEED_DEMO_DATA` is true. */
export const SeedLive = Layer.effectDiscard(
  Effect.gen(function* () {
    const enabled = yield* seedDemoData
    if (!enabled) return
    const repo = yield* ProductsRepo
    const inserted = yield* repo.insertMissing(demoProducts)
    yield* Effect.logInfo("demo data seeded").pipe(
      Effect.annotateLogs({ inserted, existing: demoProducts.length - inserted })
    )
  })
).pipe(Layer.provide(ProductsRepo.layer))
