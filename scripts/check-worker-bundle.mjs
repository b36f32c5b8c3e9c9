#!/usr/bin/env node
// Bundles the edge Worker the way `wrangler deploy` would (--dry-run: no login, no upload) into a temporary
// directory, then checks what went in: Node-only database code (pg, PGlite, the ws proxy, workers/src/db/node.ts)
// and raw TCP (node:net) must never reach the Worker. Exit 1 on a bundling error or a forbidden input.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const FORBIDDEN_INPUTS = [
  /node_modules\/(pg|pg-pool|pg-protocol|pg-connection-string)\//,
  /node_modules\/@electric-sql\//,
  /node_modules\/ws\//,
  /workers\/src\/db\/(node|pglite-server)\.ts$/,
];
const FORBIDDEN_IMPORTS = /^(node:)?(net|tls|fs|child_process)$/;

const outdir = mkdtempSync(join(tmpdir(), "aybiza-worker-bundle-"));
try {
  const r = spawnSync(
    "npx",
    ["wrangler", "deploy", "--dry-run", "--outdir", outdir, "--metafile", join(outdir, "meta.json")],
    {
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
    },
  );
  if (r.status !== 0) {
    console.error("worker bundle: wrangler deploy --dry-run failed");
    process.exit(1);
  }
  const meta = JSON.parse(readFileSync(join(outdir, "meta.json"), "utf8"));
  const inputs = Object.keys(meta.inputs);
  const badInputs = inputs.filter((p) => FORBIDDEN_INPUTS.some((re) => re.test(p)));
  const badImports = Object.values(meta.outputs).flatMap((o) =>
    (o.imports ?? []).filter((i) => FORBIDDEN_IMPORTS.test(i.path)).map((i) => i.path),
  );
  for (const p of badInputs) console.error(`worker bundle includes Node-only code: ${p}`);
  for (const p of badImports) console.error(`worker bundle imports ${p}`);
  const size = Object.values(meta.outputs).reduce((n, o) => n + (o.bytes ?? 0), 0);
  console.log(
    `worker bundle: ${inputs.length} inputs, ${Math.round(size / 1024)} KiB incl. source map, ${badInputs.length + badImports.length} forbidden`,
  );
  process.exit(badInputs.length + badImports.length ? 1 : 0);
} finally {
  rmSync(outdir, { recursive: true, force: true });
}
