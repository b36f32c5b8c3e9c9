// Bundles the console's browser code (workers/src/console/client/) with esbuild into the Worker's static assets
// (workers/console-assets/console/assets/, git-ignored). wrangler runs this before every `wrangler dev` and
// deploy ([build] in wrangler.toml); the worker test config runs it too. Nothing is loaded from a CDN.
//   console.js            the console pages' script (ES module)
//   capture-worklet.js    the microphone AudioWorklet (16 kHz PCM16)
//   aybiza-web-call.js    for tenants' own sites: defines window.AybizaWebCall (docs/console.md)
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const src = path.join(root, "workers/src/console/client");
export const ASSETS_DIR = path.join(root, "workers/console-assets");
const out = path.join(ASSETS_DIR, "console/assets");

export async function buildConsole() {
  mkdirSync(out, { recursive: true });
  // A tenant's page loads the embed script and adds the worklet from our origin; AudioWorklet modules are fetched
  // with CORS, so these two files say any origin may read them (they are public code, no credentials involved).
  writeFileSync(
    path.join(ASSETS_DIR, "_headers"),
    ["/console/assets/aybiza-web-call.js", "/console/assets/capture-worklet.js"]
      .map((file) => `${file}\n  Access-Control-Allow-Origin: *\n`)
      .join(""),
  );
  const common = { bundle: true, minify: true, target: "es2022", legalComments: "none", logLevel: "warning" };
  await Promise.all([
    build({
      ...common,
      entryPoints: [path.join(src, "main.ts")],
      outfile: path.join(out, "console.js"),
      format: "esm",
    }),
    build({
      ...common,
      entryPoints: [path.join(src, "capture-worklet.ts")],
      outfile: path.join(out, "capture-worklet.js"),
      format: "esm",
    }),
    build({
      ...common,
      entryPoints: [path.join(src, "embed.ts")],
      outfile: path.join(out, "aybiza-web-call.js"),
      format: "iife",
      globalName: "AybizaWebCall",
    }),
  ]);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildConsole();
}
