import { defineConfig } from "vitest/config";

// Two projects: `unit` (pure logic and the component graph with mocks, plus a
// tiny real program through the engine) and `e2e` (the real local stand).
export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 120_000 } },
      { test: { name: "e2e", include: ["test/e2e/**/*.test.ts"], testTimeout: 1_800_000, hookTimeout: 1_800_000 } },
    ],
  },
});
