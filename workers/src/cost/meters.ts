// What a call used, as meter rows: derived from what the edge already receives (the call record, each turn
// event, the analysis), each row tagged with its source so a redelivered report replaces its own rows.
import type { TurnEvent } from "../../../shared/session-events.ts";

export const METERS = [
  "carrier.minutes",
  "stt.seconds",
  "llm.input_tokens",
  "llm.output_tokens",
  "llm.cache_read_tokens",
  "llm.cache_write_tokens",
  "tts.characters",
  "analysis.input_tokens",
  "analysis.output_tokens",
  "platform.seconds",
] as const;
export type Meter = (typeof METERS)[number];

export interface UsageRow {
  /** `call`, `turn:<index>` or `analysis`: what reported it. */
  source: string;
  meter: Meter;
  /** The model ID for token meters, else the product (`twilio/inbound`, `deepgram/nova-3`). */
  variant: string;
  speculative: boolean;
  quantity: number;
}

/** The speech models the media node runs today (media-nodes/src/providers/deepgram). */
export const STT_VARIANT = "deepgram/nova-3";
export const TTS_VARIANT = "deepgram/aura-2";

export interface MeteredCall {
  direction: "inbound" | "outbound" | "web";
  provider: string | null;
  answeredAt: number | null;
  endedAt: number | null;
}

/**
 * Connected time of an ended call: the carrier bills each started minute of it, speech recognition listens for
 * all of it (the STT stream is open from answer to hang-up), and a media node serves it. Web calls have no carrier.
 */
export function callUsageRows(call: MeteredCall): UsageRow[] {
  if (call.answeredAt === null || call.endedAt === null) return [];
  const ms = Math.max(0, call.endedAt - call.answeredAt);
  const seconds = Math.ceil(ms / 1000);
  const rows: UsageRow[] = [
    { source: "call", meter: "stt.seconds", variant: STT_VARIANT, speculative: false, quantity: seconds },
    { source: "call", meter: "platform.seconds", variant: "media-node", speculative: false, quantity: seconds },
  ];
  if (call.provider) {
    rows.unshift({
      source: "call",
      meter: "carrier.minutes",
      variant: `${call.provider}/${call.direction}`,
      speculative: false,
      quantity: Math.ceil(ms / 60_000),
    });
  }
  return rows.filter((r) => r.quantity > 0);
}

/**
 * One turn's model tokens (per model, speculative apart) and synthesized characters. A node that reports only the
 * turn's total `usage` has it billed to the turn's first model; without `ttsCharacters` the characters are those
 * the model generated (what was sent to synthesis, including any part the caller cut off).
 */
export function turnUsageRows(event: TurnEvent): UsageRow[] {
  const source = `turn:${event.index}`;
  const entries =
    event.llmUsage ??
    (event.modelIds.length > 0 || event.usage.inputTokens + event.usage.outputTokens > 0
      ? [{ modelId: event.modelIds[0] ?? "unknown", speculative: false, ...event.usage }]
      : []);
  const rows: UsageRow[] = [];
  for (const e of entries) {
    const base = { source, variant: e.modelId, speculative: e.speculative };
    rows.push(
      { ...base, meter: "llm.input_tokens", quantity: e.inputTokens },
      { ...base, meter: "llm.output_tokens", quantity: e.outputTokens },
      { ...base, meter: "llm.cache_read_tokens", quantity: e.cacheReadInputTokens },
      { ...base, meter: "llm.cache_write_tokens", quantity: e.cacheWriteInputTokens },
    );
  }
  rows.push({
    source,
    meter: "tts.characters",
    variant: TTS_VARIANT,
    speculative: false,
    quantity: event.ttsCharacters ?? event.generatedText.length,
  });
  return mergeRows(rows.filter((r) => r.quantity > 0));
}

export function analysisUsageRows(modelId: string, usage: { inputTokens: number; outputTokens: number }): UsageRow[] {
  const base = { source: "analysis", variant: modelId, speculative: false };
  return [
    { ...base, meter: "analysis.input_tokens" as const, quantity: usage.inputTokens },
    { ...base, meter: "analysis.output_tokens" as const, quantity: usage.outputTokens },
  ].filter((r) => r.quantity > 0);
}

/** Rows with the same key (two entries for one model in a turn) become one, as the table's key requires. */
function mergeRows(rows: UsageRow[]): UsageRow[] {
  const byKey = new Map<string, UsageRow>();
  for (const r of rows) {
    const key = `${r.source}|${r.meter}|${r.variant}|${r.speculative}`;
    const seen = byKey.get(key);
    if (seen) seen.quantity += r.quantity;
    else byKey.set(key, { ...r });
  }
  return [...byKey.values()];
}
