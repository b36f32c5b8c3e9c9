// docs/api-reference.md is generated from the edge's OpenAPI document. A route change that was not followed by
// `npm run docs:api` leaves a reference that lies to API users; this regenerates it in memory and compares.
import { readFile } from "node:fs/promises";
import { beforeAll, expect, test } from "vitest";
import { API_REFERENCE_PATH, loadOpenApiDocument, renderApiReference } from "../../../scripts/openapi-doc.ts";
import { PROBLEM_BASE, PROBLEM_TYPES } from "../../../workers/src/lib/problem.ts";

type Json = Awaited<ReturnType<typeof loadOpenApiDocument>>;

let doc: Json;
let generated: string;

beforeAll(async () => {
  doc = await loadOpenApiDocument();
  generated = renderApiReference(doc);
});

function firstDifference(a: string, b: string): string {
  const left = a.split("\n");
  const right = b.split("\n");
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    if (left[i] !== right[i]) {
      return `line ${i + 1}: committed ${JSON.stringify(left[i] ?? "<end of file>")}, routes say ${JSON.stringify(right[i] ?? "<end of file>")}`;
    }
  }
  return "none";
}

test("the committed API reference matches the routes", async () => {
  const committed = await readFile(API_REFERENCE_PATH, "utf8").catch(() => "");
  expect(
    committed === generated,
    `docs/api-reference.md is out of date: run \`npm run docs:api\` (first difference at ${firstDifference(committed, generated)})`,
  ).toBe(true);
});

test("every operation, its scope and every problem type appear in the reference", () => {
  const paths = doc.paths as Record<string, Record<string, { security?: Record<string, string[]>[] }>>;
  let operations = 0;
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item)) {
      operations++;
      const heading = `### ${method.toUpperCase()} \`${path}\``;
      expect(generated, heading).toContain(heading);
      const section = generated.slice(generated.indexOf(heading)).split("\n### ")[0] ?? "";
      for (const scope of (op.security ?? []).flatMap((s) => Object.values(s).flat())) {
        expect(section, `${method} ${path} names its scope`).toContain(`scope \`${scope}\``);
      }
    }
  }
  expect(operations).toBeGreaterThan(20);
  for (const slug of Object.keys(PROBLEM_TYPES)) expect(generated).toContain(`\`${PROBLEM_BASE}${slug}\``);
});
