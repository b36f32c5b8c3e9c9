// The spoken answer once tool results come back: the result's fields read out as short sentences, shaped by
// which tool it was (an order, opening hours, a booking), or an apology when the tool failed.
import { WEEKDAYS } from "./caller-words.ts";
import type { Message } from "./request-schema.ts";
import { kindOfTool, type ToolKind } from "./tool-calls.ts";

const KEY_WORDS: Record<string, string> = { eta: "estimated arrival", id: "ID", url: "link" };

export function humanKey(key: string): string {
  const words = key
    .replace(/([a-z])([A-Z])/g, "$1 $2")
    .split(/[_\s-]+/)
    .filter(Boolean)
    .map((w) => KEY_WORDS[w.toLowerCase()] ?? w.toLowerCase());
  return words.join(" ");
}

function spoken(value: unknown): string | null {
  if (typeof value === "string") return value.trim() === "" ? null : value.trim();
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) {
    const items = value.map(spoken).filter((v): v is string => v !== null);
    return items.length === 0 ? null : joinList(items);
  }
  return null;
}

export function joinList(items: string[]): string {
  if (items.length <= 1) return items[0] ?? "";
  if (items.length === 2) return `${items[0]} and ${items[1]}`;
  return `${items.slice(0, -1).join(", ")}, and ${items[items.length - 1]}`;
}

/** "the carrier is UPS", one phrase per scalar field, at most five. */
function fieldPhrases(value: unknown, skip: ReadonlySet<string> = new Set()): string[] {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const s = spoken(value);
    return s === null ? [] : [s];
  }
  const phrases: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (skip.has(key)) continue;
    const s = spoken(v);
    if (s === null) continue;
    phrases.push(`the ${humanKey(key)} ${Array.isArray(v) && v.length > 1 ? "are" : "is"} ${s}`);
    if (phrases.length === 5) break;
  }
  return phrases;
}

function sentence(text: string): string {
  const t = text.trim();
  if (t === "") return "";
  const capital = t[0]?.toUpperCase() + t.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

function resultValue(content: { json?: unknown; text?: string | undefined }[]): unknown {
  const json = content.find((c) => c.json !== undefined);
  if (json) return json.json;
  const text = content
    .flatMap((c) => (c.text !== undefined ? [c.text] : []))
    .join(" ")
    .trim();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function answerResult(kind: ToolKind | null, input: unknown, value: unknown, failed: boolean): string {
  if (failed) {
    const what =
      kind === "order"
        ? "look up that order"
        : kind === "hours"
          ? "get our hours"
          : kind === "booking"
            ? "make that booking"
            : "finish that";
    return `I'm sorry, I wasn't able to ${what} just now.`;
  }
  const asked = (input && typeof input === "object" ? input : {}) as Record<string, unknown>;
  switch (kind) {
    case "order": {
      const obj = (value && typeof value === "object" ? value : {}) as Record<string, unknown>;
      const id = spoken(obj.order_id ?? obj.orderId ?? asked.order_id ?? asked.orderId);
      const phrases = fieldPhrases(value, new Set(["order_id", "orderId"]));
      const head = id ? `I found order ${id}.` : "I found your order.";
      return phrases.length ? `${head} ${sentence(joinList(phrases))}` : head;
    }
    case "hours": {
      if (typeof value === "string") return sentence(`our hours are ${value}`);
      const obj = (value && typeof value === "object" ? value : {}) as Record<string, unknown>;
      const days = Object.entries(obj).filter(([k]) => WEEKDAYS.includes(k.toLowerCase() as (typeof WEEKDAYS)[number]));
      if (days.length > 0) {
        return sentence(
          joinList(
            days.map(([day, hours]) => {
              const h = spoken(hours) ?? "closed";
              const d = day[0]?.toUpperCase() + day.slice(1).toLowerCase();
              return /closed/i.test(h) ? `on ${d} we're closed` : `on ${d} we're open ${h}`;
            }),
          ),
        );
      }
      const hours = spoken(obj.hours ?? obj.opening_hours);
      if (hours) return sentence(`our hours are ${hours}`);
      return sentence(joinList(fieldPhrases(value)) || "I have our hours here");
    }
    case "booking": {
      const phrases = fieldPhrases(value);
      return phrases.length ? `You're all set. ${sentence(joinList(phrases))}` : "You're all set.";
    }
    case "transfer":
      return "Okay, connecting you now.";
    case "end":
      return "Goodbye!";
    default: {
      const phrases = fieldPhrases(value);
      return phrases.length ? `Here's what I found. ${sentence(joinList(phrases))}` : "Okay, that's done.";
    }
  }
}

export function answerToolResults(messages: Message[]): { text: string; names: string[] } {
  const last = messages[messages.length - 1];
  const asked = new Map<string, { name: string; input: unknown }>();
  for (const block of messages[messages.length - 2]?.content ?? []) {
    if (block.toolUse) asked.set(block.toolUse.toolUseId, { name: block.toolUse.name, input: block.toolUse.input });
  }
  const parts: string[] = [];
  const names: string[] = [];
  let closing = true;
  for (const block of last?.content ?? []) {
    if (!block.toolResult) continue;
    const call = asked.get(block.toolResult.toolUseId);
    const kind = call ? kindOfTool(call.name) : null;
    if (kind === "transfer" || kind === "end") closing = false;
    names.push(call?.name ?? "tool");
    parts.push(
      answerResult(kind, call?.input, resultValue(block.toolResult.content), block.toolResult.status === "error"),
    );
  }
  if (closing) parts.push("Is there anything else I can help you with?");
  return { text: parts.join(" "), names };
}
