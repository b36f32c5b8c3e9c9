#!/usr/bin/env node
// The one test command (README, CI). With TEST_LANES=2 two lanes run side by side, because the Node suites spend most of their wall
// time waiting (real processes starting and stopping, real-time audio, a real browser) rather than on a core:
//   lane 1: the typecheck, then the Node suites;
//   lane 2: lint and the layout rule, then the Worker suites inside workerd once per database backend (real PostgreSQL,
//           then PGlite), then the Worker bundle check.
// Each step's output is held back and printed whole when the step ends, under its name, with its outcome and time;
// a failed step does not stop the others. The last line is `steps: N passed, M failed (…)`.
// Extra arguments are passed to every vitest run (for example a file filter).
// By default the steps run one after another with their output live; TEST_LANES=2 runs the two lanes side by side.
import { spawn } from "node:child_process";

const extra = process.argv.slice(2);
// One after another by default: side by side (TEST_LANES=2) takes about 14 minutes instead of 20 on two cores, but
// the node suites' real-time tests lose their margin beside the Worker suites (docs/testing.md).
const serial = process.env.TEST_LANES !== "2";
const workerEnv = { CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" };

const lint = { name: "lint", cmd: ["npx", "biome", "check", "."] };
const typecheck = { name: "typecheck", cmd: ["npm", "run", "--silent", "typecheck"] };
const layout = { name: "layout rule", cmd: ["node", "scripts/check-layout.mjs"] };
// The typecheck (a minute or more) goes before the node suites so that the two lanes take about as long.
const nodeLane = [
  typecheck,
  { name: "node suites", cmd: ["npx", "vitest", "run", "--config", "vitest.node.config.ts", ...extra] },
];
const edgeLane = [
  lint,
  layout,
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
    env: workerEnv,
  })),
  { name: "worker bundle", cmd: ["node", "scripts/check-worker-bundle.mjs"] },
];
const order = [lint, typecheck, layout, ...nodeLane.slice(1), ...edgeLane.slice(2)];

const seconds = (ms) => `${Math.round(ms / 1000)} s`;

/** Runs one step; its output is live in serial mode and held back otherwise. Resolves with its outcome. */
function run(step) {
  const started = Date.now();
  if (serial) process.stdout.write(`\n── ${step.name} ──\n`);
  return new Promise((resolve) => {
    const child = spawn(step.cmd[0], step.cmd.slice(1), {
      stdio: serial ? "inherit" : ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...step.env, ...(serial ? {} : { FORCE_COLOR: process.env.FORCE_COLOR ?? "1" }) },
    });
    const out = [];
    child.stdout?.on("data", (chunk) => out.push(chunk));
    child.stderr?.on("data", (chunk) => out.push(chunk));
    const finish = (code, error) => {
      const result = { step, ok: code === 0, code, ms: Date.now() - started };
      if (!serial) {
        process.stdout.write(`\n── ${step.name} ──\n`);
        process.stdout.write(Buffer.concat(out));
        if (error) process.stdout.write(`could not run ${step.cmd[0]}: ${error.message}\n`);
      }
      process.stdout.write(
        `── ${step.name}: ${result.ok ? "passed" : `FAILED (exit ${code})`} in ${seconds(result.ms)} ──\n`,
      );
      resolve(result);
    };
    child.on("error", (error) => finish(127, error));
    child.on("close", (code, signal) => finish(code ?? (signal ? 1 : 0)));
  });
}

async function runLane(lane) {
  const results = [];
  for (const step of lane) results.push(await run(step));
  return results;
}

const started = Date.now();
const results = serial ? await runLane(order) : (await Promise.all([runLane(nodeLane), runLane(edgeLane)])).flat();
results.sort((a, b) => order.indexOf(a.step) - order.indexOf(b.step));

const failed = results.filter((r) => !r.ok).map((r) => r.step.name);
process.stdout.write(`\n── summary (${serial ? "one after another" : "two lanes side by side"}) ──\n`);
for (const r of results) {
  process.stdout.write(`${r.ok ? "passed" : "FAILED"}  ${r.step.name.padEnd(26)} ${seconds(r.ms).padStart(6)}\n`);
}
process.stdout.write(`total ${seconds(Date.now() - started)}\n`);
console.log(
  `\nsteps: ${results.length - failed.length} passed, ${failed.length} failed${failed.length ? ` (${failed.join(", ")})` : ""}`,
);
process.exit(failed.length ? 1 : 0);
