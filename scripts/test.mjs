#!/usr/bin/env node
// The one test command (README, CI). Runs the static checks, the Node suites, then the Worker suites
// inside workerd once per database backend (real PostgreSQL, then PGlite), then the Worker bundle check.
// Extra arguments are passed to every vitest run (for example a file filter).
import { spawnSync } from "node:child_process";

const extra = process.argv.slice(2);
const steps = [
  { name: "lint", cmd: ["npx", "biome", "check", "."] },
  { name: "typecheck", cmd: ["npm", "run", "--silent", "typecheck"] },
  { name: "layout rule", cmd: ["node", "scripts/check-layout.mjs"] },
  { name: "node suites", cmd: ["npx", "vitest", "run", "--config", "vitest.node.config.ts", ...extra] },
  // The Worker suites run inside workerd and reach the database through the loopback proxy, once per backend:
  // a fresh, uniquely named database on the real server (dropped afterwards), then an in-memory PGlite.
  ...["postgres", "pglite"].map((backend) => ({
    name: `worker suites (${backend})`,
    cmd: [
      "npx",
      "tsx",
      "scripts/with-db.ts",
      backend,
      "--",
      "npx",
      "vitest",
      "run",
      "--config",
      "vitest.workers.config.ts",
      ...(extra.length ? ["--passWithNoTests", ...extra] : []),
    ],
    env: { CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
  })),
  { name: "worker bundle", cmd: ["node", "scripts/check-worker-bundle.mjs"] },
];

const failed = [];
for (const step of steps) {
  process.stdout.write(`\n── ${step.name} ──\n`);
  const r = spawnSync(step.cmd[0], step.cmd.slice(1), { stdio: "inherit", env: { ...process.env, ...step.env } });
  if (r.status !== 0) failed.push(step.name);
}
const passed = steps.length - failed.length;
console.log(`\nsteps: ${passed} passed, ${failed.length} failed${failed.length ? ` (${failed.join(", ")})` : ""}`);
process.exit(failed.length ? 1 : 0);
