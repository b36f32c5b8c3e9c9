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
