// Post-call analysis, played deterministically. A request that forces the tool `record_call_analysis` gets its
// input computed from the transcript in the last user message ("Caller: …" / "Agent: …" lines) and the tool's own
// schema, so a test can predict every field:
//   - summary: the caller's first line and the agent's last, quoted, and the number of agent replies;
//   - success (when the schema asks for it): phrases quoted in the system prompt are the rubric's requirements; it
//     passes when the transcript contains every one (without any, when the agent spoke and nobody asked for a human);
//   - data (when the schema asks for it): each property filled from what was said, by its name, type and enum; a
//     property nobody said is left out, or null when required (the way a model that does not guess answers).
import type { Message, SystemBlock, ToolSpec } from "./request-schema.ts";

export const ANALYSIS_TOOL = "record_call_analysis";

interface Line {
  speaker: "caller" | "agent";
  text: string;
}

type PropertySchema = {
  type?: unknown;
  enum?: unknown[];
  properties?: Record<string, PropertySchema>;
  required?: unknown;
};

function transcriptOf(messages: Message[]): Line[] {
  const text = messages
    .filter((m) => m.role === "user")
    .flatMap((m) => m.content.flatMap((b) => (b.text !== undefined ? [b.text] : [])))
    .join("\n");
  const lines: Line[] = [];
  for (const raw of text.split("\n")) {
    const m = /^(Caller|Agent):\s*(.*)$/.exec(raw.trim());
    if (m?.[1] && m[2] !== undefined)
      lines.push({ speaker: m[1] === "Caller" ? "caller" : "agent", text: m[2].replace(/\s*\[[^\]]*\]$/, "") });
  }
  return lines;
}

const clip = (t: string) => (t.length > 120 ? `${t.slice(0, 117)}...` : t);

function summaryOf(lines: Line[]): string {
  const caller = lines.filter((l) => l.speaker === "caller");
  const agent = lines.filter((l) => l.speaker === "agent");
  if (caller.length === 0) return "The caller did not speak.";
  const first = `The caller said "${clip(caller[0]?.text ?? "")}".`;
  const last = agent.at(-1);
  return last
    ? `${first} The agent replied ${agent.length} time${agent.length === 1 ? "" : "s"} and ended with "${clip(last.text)}".`
    : `${first} The agent never replied.`;
}

function successOf(system: SystemBlock[], lines: Line[]): { pass: boolean; reason: string } {
  const rubric = system.flatMap((b) => (b.text !== undefined ? [b.text] : [])).join("\n");
  const phrases = [...rubric.matchAll(/["“]([^"”]{1,80})["”]/g)].map((m) => m[1] ?? "").filter(Boolean);
  const said = lines.map((l) => l.text.toLowerCase()).join("\n");
  if (phrases.length > 0) {
    const missing = phrases.filter((p) => !said.includes(p.toLowerCase()));
    return missing.length === 0
      ? { pass: true, reason: `The call contains ${phrases.map((p) => `"${p}"`).join(" and ")}.` }
      : { pass: false, reason: `The call never contains ${missing.map((p) => `"${p}"`).join(" or ")}.` };
  }
  const agentSpoke = lines.some((l) => l.speaker === "agent");
  const wantedHuman = lines.some(
    (l) => l.speaker === "caller" && /\b(human|real person|representative|manager|operator)\b/i.test(l.text),
  );
  if (!agentSpoke) return { pass: false, reason: "The agent never spoke." };
  if (wantedHuman) return { pass: false, reason: "The caller asked for a person." };
  return { pass: true, reason: "The agent answered the caller and nobody asked for a person." };
}

const WEEKDAY = /\b((?:next |this )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|today|tomorrow)\b/i;
const MONTH_DAY =
  /\b((?:january|february|march|april|may|june|july|august|september|october|november|december) \d{1,2}(?:st|nd|rd|th)?)\b/i;

function findValue(name: string, schema: PropertySchema, callerText: string, allText: string): unknown {
  const n = name.toLowerCase();
  if (Array.isArray(schema.enum)) {
    return schema.enum.find((v) => typeof v === "string" && allText.toLowerCase().includes(v.toLowerCase()));
  }
  if (schema.type === "boolean") {
    const words = n.split(/[_\s]+|(?=[A-Z])/).filter((w) => w.length > 2);
    return words.some((w) => allText.toLowerCase().includes(w.toLowerCase()));
  }
  if (schema.type === "number" || schema.type === "integer") {
    const m = /\b(\d+(?:\.\d+)?)\b/.exec(callerText);
    return m?.[1] === undefined ? undefined : Number(m[1]);
  }
  if (/e-?mail/.test(n)) return /[\w.+-]+@[\w-]+\.[\w.]+/.exec(callerText)?.[0];
  if (/name/.test(n)) {
    const m = /\b(?:my name is|this is|i'm|i am)\s+([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)/.exec(callerText);
    return m?.[1];
  }
  if (/order|invoice|ticket|booking|reference/.test(n)) return /\b(\d{3,12})\b/.exec(callerText)?.[1];
  if (/phone|number|callback|tel|mobile/.test(n)) {
    const m = /\+?\d[\d\s().-]{5,}\d/.exec(callerText);
    if (!m) return undefined;
    const digits = m[0].replace(/\D/g, "");
    return m[0].startsWith("+") ? `+${digits}` : digits;
  }
  if (/date|day/.test(n)) {
    const iso = /\b\d{4}-\d{2}-\d{2}\b/.exec(callerText)?.[0];
    return iso ?? MONTH_DAY.exec(callerText)?.[1] ?? WEEKDAY.exec(callerText)?.[1];
  }
  if (/time/.test(n)) {
    const m = /\b(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)/i.exec(callerText);
    return m ? `${m[1]}:${m[2] ?? "00"} ${m[3]?.toLowerCase().startsWith("a") ? "AM" : "PM"}` : undefined;
  }
  return undefined;
}

function dataOf(schema: PropertySchema, lines: Line[]): Record<string, unknown> {
  const callerText = lines
    .filter((l) => l.speaker === "caller")
    .map((l) => l.text)
    .join("\n");
  const allText = lines.map((l) => l.text).join("\n");
  const required = new Set(Array.isArray(schema.required) ? schema.required.filter((r) => typeof r === "string") : []);
  const out: Record<string, unknown> = {};
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    const value = findValue(name, prop ?? {}, callerText, allText);
    if (value !== undefined) out[name] = value;
    else if (required.has(name)) out[name] = null;
  }
  return out;
}

export function analysisInput(tool: ToolSpec, system: SystemBlock[], messages: Message[]): Record<string, unknown> {
  const schema = (tool.inputSchema.json ?? {}) as PropertySchema;
  const lines = transcriptOf(messages);
  const input: Record<string, unknown> = { summary: summaryOf(lines) };
  if (schema.properties?.success) input.success = successOf(system, lines);
  const dataSchema = schema.properties?.data;
  if (dataSchema) input.data = dataOf(dataSchema, lines);
  return input;
}
