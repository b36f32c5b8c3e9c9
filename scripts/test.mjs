#!/usr/bin/env node
// The one test command (README, CI). Runs the static checks, the Node suites, then the Worker suites
// inside workerd once per database backend (real PostgreSQL and PGlite, side by side: each spends most of its
// time starting workerd and importing, not on a core), then the Worker bundle check.
// Extra arguments are passed to every vitest run (for example a file filter).
import { spawn, spawnSync } from "node:child_process";

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
    parallel: "worker suites",
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

/** Runs a step with its output held back, so that steps run side by side print one after the other. */
function runHeld(step) {
  return new Promise((resolve) => {
    const child = spawn(step.cmd[0], step.cmd.slice(1), {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...step.env, FORCE_COLOR: process.env.FORCE_COLOR ?? "1" },
    });
    const out = [];
    child.stdout.on("data", (chunk) => out.push(chunk));
    child.stderr.on("data", (chunk) => out.push(chunk));
    child.on("close", (code) => resolve({ step, code, output: Buffer.concat(out) }));
  });
}

const failed = [];
for (let i = 0; i < steps.length; i++) {
  const step = steps[i];
  if (step.parallel) {
    const group = steps.slice(i).filter((s) => s.parallel === step.parallel);
    i += group.length - 1;
    for (const r of await Promise.all(group.map(runHeld))) {
      process.stdout.write(`\n── ${r.step.name} ──\n`);
      process.stdout.write(r.output);
      if (r.code !== 0) failed.push(r.step.name);
    }
    continue;
  }
  process.stdout.write(`\n── ${step.name} ──\n`);
  const r = spawnSync(step.cmd[0], step.cmd.slice(1), { stdio: "inherit", env: { ...process.env, ...step.env } });
  if (r.status !== 0) failed.push(step.name);
}
const passed = steps.length - failed.length;
console.log(`\nsteps: ${passed} passed, ${failed.length} failed${failed.length ? ` (${failed.join(", ")})` : ""}`);
process.exit(failed.length ? 1 : 0);
