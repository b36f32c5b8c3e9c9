// Turns a planned reply into what the service sends: content blocks cut to maxTokens and stop sequences,
// then either the Converse message or the ConverseStream events in service order. Every stream event
// carries how many output bytes were produced before it, so the server can pace it by tokens per second.
import { randomBytes } from "node:crypto";
import { estimateTokens } from "./cache.ts";
import type { PlannedReply, StopReason } from "./policy.ts";
import { signThinking } from "./thinking.ts";

export type OutputBlock =
  | { kind: "reasoning"; text: string; signature: string }
  | { kind: "text"; text: string }
  | { kind: "toolUse"; toolUseId: string; name: string; input: unknown; inputJson: string };

export interface ShapedOutput {
  blocks: OutputBlock[];
  stopReason: StopReason;
  outputTokens: number;
  outputBytes: number;
}

function bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** The longest word-aligned head of `text` within `budget` bytes. */
function cutToBytes(text: string, budget: number): string {
  if (bytes(text) <= budget) return text;
  let cut = Buffer.from(text, "utf8")
    .subarray(0, Math.max(0, budget))
    .toString("utf8")
    .replace(/\uFFFD$/, "");
  const space = cut.lastIndexOf(" ");
  if (space > 0) cut = cut.slice(0, space);
  return cut;
}

export function newToolUseId(): string {
  return `tooluse_${randomBytes(16).toString("base64url").slice(0, 22)}`;
}

export function shapeOutput(plan: PlannedReply, maxTokens: number, stopSequences: readonly string[]): ShapedOutput {
  const blocks: OutputBlock[] = [];
  let budget = maxTokens * 4;
  let used = 0;
  let stop: StopReason | null = null;

  if (plan.thinking) {
    const text = cutToBytes(plan.thinking, budget);
    if (text !== plan.thinking) stop = "max_tokens";
    blocks.push({ kind: "reasoning", text, signature: signThinking(text) });
    used += bytes(text);
    budget -= bytes(text);
  }

  let text = stop ? "" : plan.text;
  let dropTools = stop !== null;
  if (text !== "") {
    let earliest = -1;
    for (const seq of stopSequences) {
      const at = text.indexOf(seq);
      if (at >= 0 && (earliest < 0 || at < earliest)) earliest = at;
    }
    if (earliest >= 0) {
      text = text.slice(0, earliest);
      stop = "stop_sequence";
      dropTools = true;
    }
    const cut = cutToBytes(text, budget);
    if (cut !== text) {
      text = cut;
      stop = "max_tokens";
      dropTools = true;
    }
    if (text !== "") blocks.push({ kind: "text", text });
    used += bytes(text);
    budget -= bytes(text);
  }

  // A tool call that doesn't fit is left out rather than sent as half a JSON object.
  let toolUses = 0;
  for (const call of dropTools ? [] : plan.toolUses) {
    const inputJson = JSON.stringify(call.input ?? {});
    if (bytes(inputJson) > budget) {
      stop = "max_tokens";
      break;
    }
    blocks.push({ kind: "toolUse", toolUseId: newToolUseId(), name: call.name, input: call.input ?? {}, inputJson });
    used += bytes(inputJson);
    budget -= bytes(inputJson);
    toolUses++;
  }

  return {
    blocks,
    stopReason: stop ?? plan.stopReason ?? (toolUses > 0 ? "tool_use" : "end_turn"),
    outputTokens: estimateTokens(used),
    outputBytes: used,
  };
}

/** Converse: the assistant message's content. */
export function messageContent(output: ShapedOutput): Record<string, unknown>[] {
  return output.blocks.map((b) => {
    if (b.kind === "reasoning")
      return { reasoningContent: { reasoningText: { text: b.text, signature: b.signature } } };
    if (b.kind === "text") return { text: b.text };
    return { toolUse: { toolUseId: b.toolUseId, name: b.name, input: b.input } };
  });
}

export interface StreamEvent {
  type: string;
  payload: Record<string, unknown>;
  /** Output bytes produced before this event; the event is due at TTFT + tokens / tokensPerSecond. */
  atBytes: number;
  /** Carries generated content (a delta), as opposed to framing (start, stop). */
  delta: boolean;
}

/** Split into chunks of `words` words, each keeping the whitespace before it, as Claude's deltas do. */
function chunkWords(text: string, words: number): string[] {
  const tokens = text.match(/\s*\S+/g) ?? [];
  const chunks: string[] = [];
  for (let i = 0; i < tokens.length; i += words) chunks.push(tokens.slice(i, i + words).join(""));
  const trailing = /\s+$/.exec(text)?.[0];
  if (trailing && chunks.length > 0) chunks[chunks.length - 1] += trailing;
  return chunks.length > 0 ? chunks : [text];
}

function chunkFixed(text: string, size: number): string[] {
  const chunks: string[] = [];
  for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
  return chunks.length > 0 ? chunks : [""];
}

/** ConverseStream events up to and including messageStop; the server appends metadata with real timings. */
export function streamEvents(output: ShapedOutput): StreamEvent[] {
  const events: StreamEvent[] = [];
  let at = 0;
  const push = (type: string, payload: Record<string, unknown>, delta = false) => {
    events.push({ type, payload, atBytes: at, delta });
  };
  push("messageStart", { role: "assistant" });
  output.blocks.forEach((block, contentBlockIndex) => {
    if (block.kind === "reasoning") {
      for (const piece of chunkWords(block.text, 4)) {
        push("contentBlockDelta", { contentBlockIndex, delta: { reasoningContent: { text: piece } } }, true);
        at += bytes(piece);
      }
      push("contentBlockDelta", { contentBlockIndex, delta: { reasoningContent: { signature: block.signature } } });
    } else if (block.kind === "text") {
      for (const piece of chunkWords(block.text, 2)) {
        push("contentBlockDelta", { contentBlockIndex, delta: { text: piece } }, true);
        at += bytes(piece);
      }
    } else {
      push("contentBlockStart", {
        contentBlockIndex,
        start: { toolUse: { toolUseId: block.toolUseId, name: block.name } },
      });
      for (const piece of chunkFixed(block.inputJson, 16)) {
        push("contentBlockDelta", { contentBlockIndex, delta: { toolUse: { input: piece } } }, true);
        at += bytes(piece);
      }
    }
    push("contentBlockStop", { contentBlockIndex });
  });
  push("messageStop", { stopReason: output.stopReason });
  return events;
}
