import { defineConfig } from "vitest/config";

// Four projects: `unit` (pure logic and the component graph with mocks, plus
// tiny real programs through the engine; the tests sit beside the code they
// test), `e2e` (real local stands, part of npm test), `faults` (every fault
// scenario on its own stand) and `capabilities` (TLS, backups, the entry's
// VIP, monitoring: each on its own stand, `npm run test:capabilities`, kept
// out of npm test to hold it under its time budget). The stand files run one after the other:
// each brings up a stand of machines that share the controller's 2 cores,
// and their timings are reported.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: [
            "src/**/*.test.ts",
            "scripts/**/*.test.ts",
            "bench/**/*.test.ts",
            "test/harness/**/*.test.ts",
            "test/helpers/**/*.test.ts",
          ],
          testTimeout: 120_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          testTimeout: 1_800_000,
          hookTimeout: 1_800_000,
          pool: "forks",
          poolOptions: { forks: { singleFork: true } },
        },
      },
      {
        test: {
          name: "faults",
          include: ["test/faults/**/*.test.ts"],
          testTimeout: 1_800_000,
          hookTimeout: 1_800_000,
          pool: "forks",
          poolOptions: { forks: { singleFork: true } },
        },
      },
      {
        test: {
          name: "capabilities",
          include: ["test/capabilities/**/*.test.ts"],
          testTimeout: 1_800_000,
          hookTimeout: 1_800_000,
          pool: "forks",
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
