// Reads a V8 heap snapshot (.heapsnapshot, as DevTools and HeapProfiler.takeHeapSnapshot write it) and sums it
// by kind of object, then compares two: which constructors, closures, strings or arrays were added between them,
// in count and bytes. Enough to see whether a heap grows by objects of ours (a Map that is never emptied, a
// listener per call, a Durable Object per call kept alive) or not at all.
import { readFile } from "node:fs/promises";
import { z } from "zod";

const SnapshotSchema = z.object({
  snapshot: z.object({
    meta: z.object({ node_fields: z.array(z.string()), node_types: z.array(z.unknown()) }),
    node_count: z.number(),
  }),
  nodes: z.array(z.number()),
  strings: z.array(z.string()),
});

export interface HeapGroup {
  /** "object Foo", "closure onMessage", "string", "array", "code" … */
  key: string;
  count: number;
  selfBytes: number;
}

export interface HeapSummary {
  nodes: number;
  totalBytes: number;
  groups: Map<string, HeapGroup>;
}

/** Object kinds whose name says what they are; for the others the kind alone is the group. */
const NAMED = new Set(["object", "closure", "native", "hidden"]);

export async function summarizeHeapSnapshot(file: string): Promise<HeapSummary> {
  const parsed = SnapshotSchema.parse(JSON.parse(await readFile(file, "utf8")));
  const fields = parsed.snapshot.meta.node_fields;
  const typeNames = z.array(z.string()).parse(parsed.snapshot.meta.node_types[0]);
  const stride = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const groups = new Map<string, HeapGroup>();
  let totalBytes = 0;
  const { nodes, strings } = parsed;
  for (let i = 0; i + stride <= nodes.length; i += stride) {
    const type = typeNames[nodes[i + typeAt] ?? 0] ?? "?";
    const size = nodes[i + sizeAt] ?? 0;
    const name = strings[nodes[i + nameAt] ?? 0] ?? "";
    // Names of objects can be long (a string's own text); the first 80 characters tell them apart well enough.
    const key = NAMED.has(type) ? `${type} ${name.slice(0, 80)}` : type;
    let g = groups.get(key);
    if (!g) {
      g = { key, count: 0, selfBytes: 0 };
      groups.set(key, g);
    }
    g.count++;
    g.selfBytes += size;
    totalBytes += size;
  }
  return { nodes: nodes.length / stride, totalBytes, groups };
}

export interface HeapGrowth {
  key: string;
  countBefore: number;
  countAfter: number;
  bytesBefore: number;
  bytesAfter: number;
}

/** Groups that grew the most from `before` to `after`, by bytes added. */
export function compareHeapSummaries(before: HeapSummary, after: HeapSummary, top = 25): HeapGrowth[] {
  const keys = new Set([...before.groups.keys(), ...after.groups.keys()]);
  const rows: HeapGrowth[] = [];
  for (const key of keys) {
    const b = before.groups.get(key);
    const a = after.groups.get(key);
    rows.push({
      key,
      countBefore: b?.count ?? 0,
      countAfter: a?.count ?? 0,
      bytesBefore: b?.selfBytes ?? 0,
      bytesAfter: a?.selfBytes ?? 0,
    });
  }
  return rows.sort((x, y) => y.bytesAfter - y.bytesBefore - (x.bytesAfter - x.bytesBefore)).slice(0, top);
}
