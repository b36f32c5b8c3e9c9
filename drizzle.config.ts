import { defineConfig } from "drizzle-kit";

// `npm run db:generate` diffs workers/src/db/schema.ts against migrations/meta and writes the next SQL file.
// It needs no database. Hand-written migrations (triggers, Citus) are created with
// `npx drizzle-kit generate --custom --name <name>`.
export default defineConfig({
  dialect: "postgresql",
  schema: "./workers/src/db/schema.ts",
  out: "./migrations",
  strict: true,
  verbose: true,
});
