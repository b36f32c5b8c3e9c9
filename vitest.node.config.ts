import { defineConfig } from "vitest/config";

// Node-side suites: shared code, emulators, media node, scripts. Worker suites run in workerd (vitest.workers.config.ts).
export default defineConfig({
  test: {
    include: ["test/node/**/*.test.ts"],
    environment: "node",
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: real-time pacing tests must not fight each other for the CPU.
    maxWorkers: 2,
  },
});
