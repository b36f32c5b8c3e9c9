// Copied from the team hooks so CI enforces the same layout rule developers see before they stop.
// Checks the layout rule: shared/ imports neither side; workers/ and media-nodes/ never import each other;
// emulators/ (stand-ins for outside services) import neither side, so they cannot mirror a bug of our clients.
// Prints each violation and, last, the count. Exit 1 where any is found or nothing can be checked.
import fs from "node:fs";
import path from "node:path";

const root = process.cwd();
const sides = ["shared", "workers", "media-nodes", "emulators"];
const forbidden = {
  shared: ["workers", "media-nodes", "emulators"],
  workers: ["media-nodes", "emulators"],
  "media-nodes": ["workers", "emulators"],
  emulators: ["workers", "media-nodes"],
};
let aliases = {};
try {
  const ts = JSON.parse(
    fs
      .readFileSync(path.join(root, "tsconfig.json"), "utf8")
      .replace(/\/\/.*$/gm, "")
      .replace(/,(\s*[}\]])/g, "$1"),
  );
  aliases = ts.compilerOptions?.paths ?? {};
} catch {}

function* files(dir) {
  if (!fs.existsSync(dir)) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === "node_modules" || e.name.startsWith(".")) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (/\.(m|c)?(t|j)sx?$/.test(e.name) && !/\.(test|spec|bench)\.(m|c)?(t|j)sx?$/.test(e.name)) yield p; // tests may wire parts together
  }
}

function target(spec, fromFile) {
  if (spec.startsWith(".")) return path.relative(root, path.resolve(path.dirname(fromFile), spec));
  for (const [alias, targets] of Object.entries(aliases)) {
    const prefix = alias.replace(/\*$/, "");
    if (spec.startsWith(prefix))
      return path.normalize((targets[0] ?? "").replace(/^\.\//, "").replace(/\*$/, "") + spec.slice(prefix.length));
  }
  return null;
}

let violations = 0,
  checked = 0;
for (const side of sides) {
  for (const f of files(path.join(root, side))) {
    checked++;
    const text = fs.readFileSync(f, "utf8");
    for (const m of text.matchAll(
      /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g,
    )) {
      const spec = m[1] ?? m[2] ?? m[3];
      const t = target(spec, f);
      if (!t) continue;
      const top = t.split(path.sep)[0];
      if (forbidden[side].includes(top)) {
        violations++;
        console.log(`${path.relative(root, f)} imports ${spec} (${side} -> ${top})`);
      }
    }
  }
}
if (checked === 0) {
  console.log("no source files under shared/, workers/ or media-nodes/");
  process.exit(1);
}
console.log(`${violations} boundary violations in ${checked} files`);
process.exit(violations ? 1 : 0);
