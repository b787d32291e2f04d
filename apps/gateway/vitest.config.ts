import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // One PostgreSQL for the run (or DATABASE_URL), a fresh database per suite.
    globalSetup: ["@acme/testing/globalSetup"]
  }
})
