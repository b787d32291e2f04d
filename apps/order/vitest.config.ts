import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["@acme/testing/globalSetup"],
    // The integration tests drive real services as processes: generous bounds for a loaded
    // machine (each test bounds its own waits tighter, e.g. "REJECTED within 20 seconds").
    testTimeout: 60_000
  }
})
