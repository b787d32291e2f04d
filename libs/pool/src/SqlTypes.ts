import { Schema, SchemaTransformation } from "effect"

/**
 * A PostgreSQL `bigint` column (the driver reads it as a JS `bigint`) as a number: identities
 * and money amounts (bounded by `MinorUnits`, 10^12) stay far inside the exact range of a double.
 */
export const NumberFromInt8 = Schema.BigInt.pipe(
  Schema.decodeTo(
    Schema.Int,
    SchemaTransformation.transform({
      decode: (value: bigint) => Number(value),
      encode: (value: number) => BigInt(value)
    })
  )
)
