// What a CallLedger writes to Postgres, as plain rows: the call record (a full snapshot each time, so the
// newest write is always the whole truth) and the turns, numbered deterministically from the media node's
// turn index so a redelivered turn lands on the same row.
import type {
  AgentTextHeardEvent,
  CallerTurnFinalEvent,
  SpokenLine,
  TurnEvent,
} from "../../../../shared/session-events.ts";
import type { CallDirection, CallStatus, Jurisdiction, Speaker, TelephonyProvider } from "../../db/schema.ts";

export interface CallRecord {
  callId: string;
  tenantId: string;
  jurisdiction: Jurisdiction;
  plan: string;
  direction: CallDirection;
  fromNumber: string;
  toNumber: string;
  agentId: string | null;
  agentVersionId: string | null;
  /** Version number and prompt-prefix hash: what the call token carries (not columns of `calls`). */
  agentVersion: number | null;
  prefixHash: string | null;
  provider: TelephonyProvider | null;
  providerCallSid: string | null;
  region: string | null;
  nodeId: string | null;
  status: CallStatus;
  createdAt: number;
  answeredAt: number | null;
  endedAt: number | null;
  endReason: string | null;
}

export interface TurnRow {
  tenantId: string;
  id: string;
  callId: string;
  /** The media node's turn index; with the speaker, the row's idempotency key. */
  turnIndex: number;
  speaker: Speaker;
  text: string;
  interrupted: boolean;
  createdAt: number;
  /** Latency waterfall, epoch ms as the media node measured it; null for stages that did not happen. */
  callerSpeechEndedAt: number | null;
  sttFinalAt: number | null;
  /** Absent on rows queued before this field existed. */
  llmRequestAt?: number | null;
  llmFirstTokenAt: number | null;
  ttsFirstByteAt: number | null;
  firstAudioOutAt: number | null;
  platformOverheadMs: number | null;
  inputTokens: number | null;
  outputTokens: number | null;
  cacheReadTokens: number | null;
  cacheWriteTokens: number | null;
  modelId: string | null;
  tools?: { id: string; name: string; ok: boolean; ms: number }[] | null;
  /** The platform's own lines spoken in the turn (agent rows); absent on rows queued before this field existed. */
  lines?: SpokenLine[] | null;
}

/** Twilio's (and Telnyx-mapped) final call statuses in the spelling the calls table uses. */
export function callStatusFromCarrier(status: string): CallStatus {
  switch (status) {
    case "no-answer":
      return "no_answer";
    case "in-progress":
    case "answered":
      return "in_progress";
    case "busy":
    case "failed":
    case "canceled":
    case "completed":
    case "queued":
    case "ringing":
      return status;
    default:
      return "failed";
  }
}

/**
 * A turn event becomes up to two rows under the node's turn index: the caller's words and the agent's reply
 * (turn 0, the greeting, has no caller words). The agent row carries the latency waterfall and token usage.
 */
export function turnRows(event: TurnEvent, tenantId: string, newId: () => string): TurnRow[] {
  const rows: TurnRow[] = [];
  const w = event.waterfall;
  const base = {
    tenantId,
    callId: event.callId,
    turnIndex: event.index,
    callerSpeechEndedAt: w.speechEndAt ?? null,
    sttFinalAt: w.sttFinalAt ?? null,
    llmRequestAt: null,
    llmFirstTokenAt: null,
    ttsFirstByteAt: null,
    firstAudioOutAt: null,
    platformOverheadMs: null,
    inputTokens: null,
    outputTokens: null,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    modelId: null,
  };
  if (event.userText.trim() !== "") {
    rows.push({
      ...base,
      id: newId(),
      speaker: "caller",
      text: event.userText,
      interrupted: false,
      createdAt: w.speechEndAt ?? event.at,
    });
  }
  const lines = event.lines ?? [];
  // A turn whose only sound was the platform's own (a filler before the caller went on) is still a turn they heard.
  if (agentSpoke(event)) {
    rows.push({
      ...base,
      id: newId(),
      speaker: "agent",
      text: event.assistantText,
      interrupted: event.interrupted,
      createdAt: event.at,
      llmRequestAt: w.llmRequestAt ?? null,
      llmFirstTokenAt: w.llmFirstTokenAt ?? null,
      ttsFirstByteAt: w.ttsFirstByteAt ?? null,
      firstAudioOutAt: w.firstAudioOutAt ?? null,
      platformOverheadMs: w.platformOverheadMs === undefined ? null : Math.round(w.platformOverheadMs),
      inputTokens: event.usage.inputTokens,
      outputTokens: event.usage.outputTokens,
      cacheReadTokens: event.usage.cacheReadInputTokens,
      cacheWriteTokens: event.usage.cacheWriteInputTokens,
      modelId: event.modelIds[0] ?? null,
      tools: event.tools.length > 0 ? event.tools : null,
      lines: lines.length > 0 ? lines : null,
    });
  }
  return rows;
}

/** Whether the agent said anything in the turn: the model's words, or the platform's own lines. */
export function agentSpoke(event: TurnEvent): boolean {
  return event.assistantText !== "" || event.generatedText !== "" || (event.lines?.length ?? 0) > 0;
}

/**
 * A checkpoint's row: the caller's final words, or the agent's reply as heard so far, under the turn's index. The
 * turn's own `turn` event later overwrites it with the whole row (the outbox writes in order). Until then an agent
 * row counts as interrupted: if the node is lost now, that is exactly what happened to it.
 */
export function checkpointRow(
  event: CallerTurnFinalEvent | AgentTextHeardEvent,
  tenantId: string,
  newId: () => string,
): TurnRow {
  return {
    tenantId,
    id: newId(),
    callId: event.callId,
    turnIndex: event.index,
    speaker: event.type === "turn.caller-final" ? "caller" : "agent",
    text: event.text,
    interrupted: event.type === "turn.agent-heard",
    createdAt: event.at,
    callerSpeechEndedAt: null,
    sttFinalAt: null,
    llmFirstTokenAt: null,
    ttsFirstByteAt: null,
    firstAudioOutAt: null,
    platformOverheadMs: null,
    inputTokens: null,
    outputTokens: null,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    modelId: null,
  };
}
