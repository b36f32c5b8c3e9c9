// The pieces every section of docs/benchmarks.md is laid out with: a figure as text (— for none), Markdown tables,
// any figures object as tables, and a section's "not measured" or command line.
import type { Section } from "./result.ts";
import type { Summary } from "./stats.ts";

export type Row = (string | number | null | undefined)[];

export function fmt(v: unknown, digits = 1): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") {
    if (Number.isNaN(v)) return "—";
    if (!Number.isFinite(v)) return v > 0 ? "∞" : "-∞";
    const f = 10 ** digits;
    return String(Math.round(v * f) / f);
  }
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "string") return v.replace(/\|/g, "\\|").replace(/\n/g, " ");
  return JSON.stringify(v).replace(/\|/g, "\\|");
}

export function table(head: string[], rows: Row[]): string {
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`];
  for (const r of rows) lines.push(`| ${r.map((c) => (typeof c === "string" ? c : fmt(c))).join(" | ")} |`);
  return lines.join("\n");
}

export const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;

export function record(v: unknown): Record<string, unknown> | null {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

/** Any figures object as tables: scalars (nested objects flattened) in one, each array of objects in its own. */
export function renderGeneric(figures: unknown): string {
  const root = record(figures);
  if (!root) return `Figures: ${fmt(figures)}`;
  const scalars: Row[] = [];
  const arrays: { name: string; items: Record<string, unknown>[] }[] = [];
  const walk = (obj: Record<string, unknown>, prefix: string, depth: number) => {
    for (const [k, v] of Object.entries(obj)) {
      const key = prefix ? `${prefix}.${k}` : k;
      const rec = record(v);
      if (Array.isArray(v)) {
        if (v.length > 0 && v.every((x) => record(x)))
          arrays.push({ name: key, items: v as Record<string, unknown>[] });
        else scalars.push([key, v.map((x) => fmt(x)).join(", ") || "—"]);
      } else if (rec && depth < 3) walk(rec, key, depth + 1);
      else scalars.push([key, fmt(v)]);
    }
  };
  walk(root, "", 0);
  const parts: string[] = [];
  if (scalars.length > 0) parts.push(table(["figure", "value"], scalars));
  for (const { name, items } of arrays) {
    const cols: string[] = [];
    for (const item of items)
      for (const [k, v] of Object.entries(item)) if (!record(v) && !Array.isArray(v) && !cols.includes(k)) cols.push(k);
    parts.push(
      `\`${name}\`:\n\n${table(
        cols,
        items.map((item) => cols.map((c) => fmt(item[c]))),
      )}`,
    );
  }
  return parts.join("\n\n");
}

export function notMeasured(section: Section<unknown>): string | null {
  return section.status === "not-measured" ? `**Not measured:** ${section.reason}` : null;
}

export function measuredLine(section: Section<unknown>): string {
  return section.status === "measured" ? `Command: \`${section.command}\` (${fmt(section.seconds, 0)} s).` : "";
}

export function summaryCells(s: Summary | undefined, digits = 1): [string, string] {
  return [fmt(s?.p50, digits), fmt(s?.p99, digits)];
}
