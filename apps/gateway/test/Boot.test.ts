import { describeBoot } from "@acme/testing"
import { fileURLToPath } from "node:url"

describeBoot(fileURLToPath(new URL("../src/main.ts", import.meta.url)), { database: false })
