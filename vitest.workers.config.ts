import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

// Worker suites, run inside workerd against a real database through the loopback proxy, exactly as the Worker
// runs under `wrangler dev`. scripts/with-db.ts starts the database and proxy and sets these two variables;
// scripts/test.mjs runs this once per backend (PostgreSQL, PGlite).
const { DATABASE_URL, DB_WS_PROXY } = process.env;
if (!DATABASE_URL || !DB_WS_PROXY) {
  throw new Error(
    "DATABASE_URL and DB_WS_PROXY are not set. Run the Worker suites through the database wrapper:\n" +
      "  npx tsx scripts/with-db.ts pglite -- npx vitest run --config vitest.workers.config.ts",
  );
}

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: { bindings: { DATABASE_URL, DB_WS_PROXY } },
    }),
  ],
  test: {
    include: ["test/workers/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
