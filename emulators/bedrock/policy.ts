// A small deterministic stand-in for the model. It reads the caller's last words and the tools offered
// and answers the way a phone agent on Claude would: short spoken sentences, a tool call when a tool
// fits (two in one message when the caller asks two things), and an answer quoting the tool's result
// once it comes back. Same request in, same words out, so tests and benchmarks can rely on the shape.
import { ANALYSIS_TOOL, analysisInput } from "./analysis.ts";
import type { Message, ToolSpec, ValidatedRequest } from "./request.ts";

export type StopReason =
  | "end_turn"
  | "tool_use"
  | "max_tokens"
  | "stop_sequence"
  | "guardrail_intervened"
  | "content_filtered"
  | "malformed_model_output"
  | "malformed_tool_use"
  | "model_context_window_exceeded";

export interface PlannedReply {
  thinking: string | null;
  text: string;
  toolUses: { name: string; input: unknown }[];
  /** null: derived (tool_use when there are tool uses, else end_turn). */
  stopReason: StopReason | null;
}

// ── Reading the caller ──────────────────────────────────────────────────────────────────────────

const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] as const;

interface Entities {
  orderId?: string;
  day?: string;
  time?: string;
  name?: string;
}

const INTENTS = {
  order: /\b(orders?|package|parcel|shipment|delivery)\b/,
  hours: /\b(hours?|open|opening|close|closing|closed)\b/,
  booking: /\b(book|booking|schedule|appointment|reserve|reservation)\b/,
  transfer: /\b(transfer|human|real person|representative|operator|manager)\b/,
  goodbye: /\b(bye|goodbye|that's all|that is all|that's it|nothing else)\b/,
  greeting: /^(hi|hello|hey|good (morning|afternoon|evening))\b/,
};

function normalize(text: string): string {
  return text.toLowerCase().replace(/[’‘]/g, "'").replace(/\s+/g, " ").trim();
}

function entitiesOf(text: string): Entities {
  const t = normalize(text);
  const out: Entities = {};
  const order = /\b(?:order|number|#)\D{0,20}?(\d{3,12})\b/.exec(t) ?? /\b(\d{4,12})\b/.exec(t);
  if (order?.[1]) out.orderId = order[1];
  const day = WEEKDAYS.find((d) => t.includes(d)) ?? /\b(today|tomorrow)\b/.exec(t)?.[1];
  if (day) out.day = day[0]?.toUpperCase() + day.slice(1);
  const time = /\b(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)/.exec(t);
  if (time) out.time = `${time[1]}:${time[2] ?? "00"} ${time[3]?.startsWith("a") ? "AM" : "PM"}`;
  else if (/\bnoon\b/.test(t)) out.time = "12:00 PM";
  const name = /\bmy name is ([a-z]+(?: [a-z]+)?)/.exec(t);
  if (name?.[1]) out.name = name[1].replace(/\b[a-z]/g, (c) => c.toUpperCase());
  return out;
}

function textOf(message: Message | undefined): string {
  return (message?.content ?? [])
    .flatMap((b) => (b.text !== undefined ? [b.text] : []))
    .join(" ")
    .trim();
}

/** The caller's latest words: the last user message that has text. */
export function lastUserText(messages: Message[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m?.role === "user" && textOf(m) !== "") return textOf(m);
  }
  return "";
}

// ── Tools ───────────────────────────────────────────────────────────────────────────────────────

type ToolKind = "order" | "hours" | "booking" | "transfer" | "end";

const TOOL_MATCH: Record<ToolKind, { name: string; keywords: RegExp }> = {
  order: { name: "lookup_order", keywords: /order/ },
  hours: { name: "get_business_hours", keywords: /hours|opening/ },
  booking: { name: "book_appointment", keywords: /book|appointment|schedule|reserv/ },
  transfer: { name: "transfer_call", keywords: /transfer/ },
  end: { name: "end_call", keywords: /end_call|hang_?up/ },
};

function findTool(tools: ToolSpec[], kind: ToolKind): ToolSpec | undefined {
  const { name, keywords } = TOOL_MATCH[kind];
  return tools.find((t) => t.name === name) ?? tools.find((t) => keywords.test(t.name.toLowerCase()));
}

function kindOfTool(name: string): ToolKind | null {
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
function fillInput(
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

// ── Answering tool results ──────────────────────────────────────────────────────────────────────

const KEY_WORDS: Record<string, string> = { eta: "estimated arrival", id: "ID", url: "link" };

function humanKey(key: string): string {
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

function joinList(items: string[]): string {
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

function answerToolResults(messages: Message[]): { text: string; names: string[] } {
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

// ── Plain answers ───────────────────────────────────────────────────────────────────────────────

const PRONOUNS: Record<string, string> = {
  my: "your",
  your: "our",
  i: "you",
  me: "you",
  "i'm": "you're",
  mine: "yours",
  myself: "yourself",
};

const VERBS = new Set(
  "is are was were has have had hurts hurt broke broken isn't aren't doesn't don't won't can't needs keeps seems looks stopped started came got went".split(
    " ",
  ),
);

const FILLERS = /^(?:(?:so|well|um+|uh+|er+|hmm+|okay|ok|yes|yeah|please|hi|hello|hey|and|but)\s+)*/;

/** The subject of what the caller said, e.g. "can you tell me about your pricing?" → "our pricing". */
function topicOf(text: string): string {
  const t = normalize(text)
    .replace(/[?.!,;:]+/g, "")
    .replace(FILLERS, "");
  const frames = [
    /\b(?:about|regarding)\s+(.+)$/,
    /\b(?:help|question|problem|issue|trouble)\s+(?:with|on)\s+(.+)$/,
    /\b(?:wondering|know|asking) (?:if|whether) (?:you|they|i|we) (?:can |could )?(?:have|offer|take|accept|sell|support|get|do|bring|pay)\s+(.+)$/,
    /^(?:do|does|can|could) (?:you|they|it|i|we) (?:have|offer|take|accept|sell|support|get|do|bring|pay)\s+(.+)$/,
    /^(?:is|are) there\s+(.+)$/,
    /^(?:what|how) (?:is|are|was|about|'s|much is|much does|much do|long is|long does)\s+(.+)$/,
    /^(?:what's|how's)\s+(.+)$/,
    /\b((?:my|your|our|the|this|that)\s+.+)$/,
  ];
  let topic = t.replace(
    /^(?:(?:can|could|would|will) you\s+|i (?:want|need|would like|'d like) to\s+|i'm calling to\s+|tell me\s+)*/,
    "",
  );
  for (const frame of frames) {
    const m = frame.exec(t);
    if (m?.[1]) {
      topic = m[1];
      break;
    }
  }
  // A noun phrase ends where its verb starts: "my tooth hurts really bad" → "my tooth".
  const all = topic.split(" ").filter(Boolean);
  const verb = all.findIndex((w, i) => i > 0 && VERBS.has(w));
  const words = (verb > 0 ? all.slice(0, verb) : all).slice(0, 8);
  return words.map((w) => PRONOUNS[w] ?? w).join(" ");
}

function stableIndex(text: string, n: number): number {
  let h = 0;
  for (const ch of text) h = (h * 31 + (ch.codePointAt(0) ?? 0)) >>> 0;
  return h % n;
}

function plainAnswer(userText: string): string {
  const t = normalize(userText);
  const bare = t.replace(/[?.!,;:]+/g, "");
  if (bare === "" || /^(?:(?:um+|uh+|er+|hmm+|mm+)\s*)+$/.test(bare)) {
    return "Sorry, I didn't quite catch that. Could you say it again?";
  }
  if (/^(?:(?:ok|okay|great|perfect)\s+)?(?:thanks|thank you)(?: so much| very much)?$/.test(bare)) {
    return "You're welcome! Is there anything else I can help you with?";
  }
  if (/^(?:yes|yeah|yep|sure|ok|okay|sounds good|please)(?: please)?$/.test(bare)) {
    return "Great. What would you like to do next?";
  }
  if (/^(?:no|nope|not really)(?: thanks| thank you)?$/.test(bare)) {
    return "No problem. Is there anything else I can help you with?";
  }
  if (/\bhow are you\b/.test(t)) return "I'm doing well, thanks for asking. How can I help you today?";
  if (INTENTS.greeting.test(t) && t.split(" ").length <= 4) {
    return "Hi there, thanks for calling. How can I help you today?";
  }
  const topic = topicOf(userText) || "that";
  const templates = [
    `Sure, I can help with ${topic}. I can walk you through the details now, or have someone from the team follow up later. Which would you prefer?`,
    `Thanks for calling about ${topic}. I want to get this right for you, so let me ask one quick question. What would you like to know first?`,
    `Okay, let's sort out ${topic} together. It depends on a few details, and I'm happy to go through them with you. Could you tell me a bit more?`,
  ];
  return templates[stableIndex(t, templates.length)] ?? templates[0] ?? "";
}

// ── The policy ──────────────────────────────────────────────────────────────────────────────────

function quote(text: string): string {
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

function withThinking(req: ValidatedRequest, reply: Omit<PlannedReply, "thinking">, why: string): PlannedReply {
  return { ...reply, thinking: req.thinking.kind === "off" ? null : why };
}

export function planReply(req: ValidatedRequest): PlannedReply {
  const { messages, tools, toolChoice } = req;
  const last = messages[messages.length - 1];
  const userText = lastUserText(messages);

  if (last?.role === "user" && last.content.some((b) => b.toolResult)) {
    const { text, names } = answerToolResults(messages);
    return withThinking(
      req,
      { text, toolUses: [], stopReason: null },
      `The results from ${joinList(names)} are back. I'll read the key details to the caller in a sentence or two and keep it conversational, since this is a phone call.`,
    );
  }

  const t = normalize(userText);
  const entities = entitiesOf(userText);
  const said = `The caller said: "${quote(userText)}".`;

  if (toolChoice.kind === "tool" && toolChoice.name === ANALYSIS_TOOL) {
    const tool = tools.find((x) => x.name === ANALYSIS_TOOL);
    const input = tool ? analysisInput(tool, req.system, messages) : {};
    return withThinking(req, { text: "", toolUses: [{ name: ANALYSIS_TOOL, input }], stopReason: null }, said);
  }

  if (toolChoice.kind === "tool") {
    const tool = tools.find((x) => x.name === toolChoice.name);
    const input = tool ? fillInput(tool, entities, userText, true).input : {};
    return withThinking(req, { text: "", toolUses: [{ name: toolChoice.name, input }], stopReason: null }, said);
  }

  if (INTENTS.goodbye.test(t)) {
    const end = findTool(tools, "end");
    const text = "Thanks for calling, and have a great day. Goodbye!";
    if (!end)
      return withThinking(req, { text, toolUses: [], stopReason: null }, `${said} They are done, so I'll say goodbye.`);
    return withThinking(
      req,
      {
        text,
        toolUses: [{ name: end.name, input: fillInput(end, entities, "caller said goodbye", true).input }],
        stopReason: null,
      },
      `${said} They are done, so I'll say goodbye and end the call with ${end.name}.`,
    );
  }

  if (INTENTS.transfer.test(t)) {
    const transfer = findTool(tools, "transfer");
    if (!transfer) {
      return withThinking(
        req,
        {
          text: "I'm not able to transfer calls right now, but I'm happy to help you myself. What do you need?",
          toolUses: [],
          stopReason: null,
        },
        `${said} They want a person, but I have no transfer tool.`,
      );
    }
    return withThinking(
      req,
      {
        text: "Of course, I'll connect you with someone from the team now.",
        toolUses: [{ name: transfer.name, input: fillInput(transfer, entities, userText, true).input }],
        stopReason: null,
      },
      `${said} They asked for a person, so I'll transfer the call with ${transfer.name}.`,
    );
  }

  const calls: { kind: ToolKind; name: string; input: unknown }[] = [];
  const questions: string[] = [];
  for (const kind of ["order", "hours", "booking"] as const) {
    if (!INTENTS[kind].test(t)) continue;
    const tool = findTool(tools, kind);
    if (!tool) continue;
    const { input, missing } = fillInput(tool, entities, userText, false);
    if (missing.length === 0) calls.push({ kind, name: tool.name, input });
    else if (kind === "order") questions.push("Sure, I can check on that. What's the order number?");
    else if (kind === "booking")
      questions.push("I'd be happy to book that. What day and time would work best for you?");
    else questions.push(`Sure. Could you tell me the ${missing.map(humanKey).join(" and ")}?`);
  }

  if (calls.length === 0 && toolChoice.kind === "any" && tools[0]) {
    const tool = tools[0];
    calls.push({
      kind: kindOfTool(tool.name) ?? "order",
      name: tool.name,
      input: fillInput(tool, entities, userText, true).input,
    });
  }

  if (calls.length > 0) {
    const forced = toolChoice.kind !== "auto";
    const first = calls[0];
    const preface =
      forced || !first
        ? ""
        : calls.length > 1
          ? `Let me check ${calls.length === 2 ? "both" : "all"} of those for you.`
          : first.kind === "order" && entities.orderId
            ? `Let me look up order ${entities.orderId} for you.`
            : first.kind === "hours"
              ? "Let me check our hours for you."
              : first.kind === "booking"
                ? "Let me get that booked for you."
                : "Let me check that for you.";
    const names = calls.map((c) => c.name);
    return withThinking(
      req,
      { text: preface, toolUses: calls.map(({ name, input }) => ({ name, input })), stopReason: null },
      `${said} I need ${joinList(names)} for that, so I'll call ${calls.length > 1 ? "them together" : "it"} and then answer from the result.`,
    );
  }

  if (questions.length > 0) {
    return withThinking(
      req,
      { text: questions.join(" "), toolUses: [], stopReason: null },
      `${said} I can't call the tool yet because something required is missing, so I'll ask for it.`,
    );
  }

  return withThinking(
    req,
    { text: plainAnswer(userText), toolUses: [], stopReason: null },
    `${said} No tool is needed. I'll answer briefly and ask a follow-up question, since this is a phone call.`,
  );
}
