// The tools a request offers, matched to what the caller wants, and their input filled from what the caller said.
import type { Entities } from "./caller-words.ts";
import type { ToolSpec } from "./request-schema.ts";

export type ToolKind = "order" | "hours" | "booking" | "transfer" | "end";

const TOOL_MATCH: Record<ToolKind, { name: string; keywords: RegExp }> = {
  order: { name: "lookup_order", keywords: /order/ },
  hours: { name: "get_business_hours", keywords: /hours|opening/ },
  booking: { name: "book_appointment", keywords: /book|appointment|schedule|reserv/ },
  transfer: { name: "transfer_call", keywords: /transfer/ },
  end: { name: "end_call", keywords: /end_call|hang_?up/ },
};

export function findTool(tools: ToolSpec[], kind: ToolKind): ToolSpec | undefined {
  const { name, keywords } = TOOL_MATCH[kind];
  return tools.find((t) => t.name === name) ?? tools.find((t) => keywords.test(t.name.toLowerCase()));
}

export function kindOfTool(name: string): ToolKind | null {
  const lower = name.toLowerCase();
  for (const kind of Object.keys(TOOL_MATCH) as ToolKind[]) {
    const { name: canonical, keywords } = TOOL_MATCH[kind];
    if (lower === canonical || keywords.test(lower)) return kind;
  }
  return null;
}

interface JsonSchemaLike {
  type?: unknown;
  properties?: Record<string, { type?: unknown; enum?: unknown[] } | undefined>;
  required?: unknown;
}

/** Fill a tool's input from what the caller said; required fields nobody said are reported missing. */
export function fillInput(
  tool: ToolSpec,
  entities: Entities,
  userText: string,
  forced: boolean,
): { input: Record<string, unknown>; missing: string[] } {
  const schema = (tool.inputSchema.json ?? {}) as JsonSchemaLike;
  const properties = schema.properties && typeof schema.properties === "object" ? schema.properties : {};
  const required = Array.isArray(schema.required) ? schema.required.filter((r) => typeof r === "string") : [];
  const input: Record<string, unknown> = {};
  const missing: string[] = [];
  for (const [prop, spec] of Object.entries(properties)) {
    const p = prop.toLowerCase();
    let value: string | undefined;
    if (/order/.test(p)) value = entities.orderId;
    else if (/day|date/.test(p)) value = entities.day;
    else if (/time|slot/.test(p)) value = entities.time;
    else if (/name/.test(p)) value = entities.name;
    else if (/reason|summary|topic|note|message|detail/.test(p)) value = userText.slice(0, 200) || undefined;
    const enumValues = Array.isArray(spec?.enum) ? spec.enum : null;
    if (value !== undefined && enumValues) {
      value = enumValues.find((e) => typeof e === "string" && e.toLowerCase() === value?.toLowerCase()) as
        | string
        | undefined;
    }
    const type = spec?.type;
    if (value === undefined) {
      if (!required.includes(prop)) continue;
      if (!forced) {
        missing.push(prop);
        continue;
      }
      input[prop] =
        enumValues?.[0] ?? (type === "number" || type === "integer" ? 0 : type === "boolean" ? false : "unknown");
      continue;
    }
    input[prop] = (type === "number" || type === "integer") && /^\d+$/.test(value) ? Number(value) : value;
  }
  return { input, missing };
}
