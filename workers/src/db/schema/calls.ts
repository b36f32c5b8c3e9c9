// Calls and what they leave behind: the call record, its turns as heard, the post-call analysis, metered usage.
import { sql } from "drizzle-orm";
import {
  boolean,
  check,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import type { SpokenLine } from "../../../../shared/session-events.ts";
import { accounts } from "./accounts.ts";
import { agents, agentVersions } from "./agents.ts";
import { createdAt, ts } from "./columns.ts";
import type { TelephonyProvider } from "./numbers.ts";

// `web`: a browser call (POST /v1/web-calls), from the console or a tenant's own site.
export const CALL_DIRECTIONS = ["inbound", "outbound", "web"] as const;
export type CallDirection = (typeof CALL_DIRECTIONS)[number];
export const CALL_STATUSES = [
  "queued",
  "ringing",
  "in_progress",
  "completed",
  "busy",
  "no_answer",
  "failed",
  "canceled",
] as const;
export type CallStatus = (typeof CALL_STATUSES)[number];

export const calls = pgTable(
  "calls",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => accounts.id),
    id: text("id").notNull(),
    direction: text("direction").notNull().$type<CallDirection>(),
    fromNumber: text("from_number").notNull(),
    toNumber: text("to_number").notNull(),
    status: text("status").notNull().$type<CallStatus>(),
    region: text("region"),
    agentId: text("agent_id"),
    agentVersionId: text("agent_version_id"),
    provider: text("provider").$type<TelephonyProvider>(),
    providerCallSid: text("provider_call_sid"),
    createdAt: createdAt(),
    answeredAt: ts("answered_at"),
    endedAt: ts("ended_at"),
    endReason: text("end_reason"),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    index("calls_tenant_created_idx").on(t.tenantId, t.createdAt, t.id),
    index("calls_tenant_provider_sid_idx").on(t.tenantId, t.providerCallSid),
    foreignKey({
      name: "calls_agent_fk",
      columns: [t.tenantId, t.agentId],
      foreignColumns: [agents.tenantId, agents.id],
    }),
    foreignKey({
      name: "calls_agent_version_fk",
      columns: [t.tenantId, t.agentVersionId],
      foreignColumns: [agentVersions.tenantId, agentVersions.id],
    }),
    check("calls_direction_check", sql`${t.direction} in ('inbound', 'outbound', 'web')`),
  ],
);

export const SPEAKERS = ["caller", "agent"] as const;
export type Speaker = (typeof SPEAKERS)[number];

// One row per speaker per exchange: the media node reports an exchange (caller words, agent reply, waterfall) as
// one turn event with an index; it becomes a caller row and an agent row with that index. The unique key
// (call, turn_index, speaker) makes the edge's at-least-once outbox delivery idempotent (ON CONFLICT DO NOTHING).
export const callTurns = pgTable(
  "call_turns",
  {
    tenantId: text("tenant_id").notNull(),
    id: text("id").notNull(),
    callId: text("call_id").notNull(),
    // 0 is the agent's greeting; exchanges count from 1.
    turnIndex: integer("turn_index").notNull(),
    speaker: text("speaker").notNull().$type<Speaker>(),
    text: text("text").notNull(),
    // The agent was cut off by the caller; `text` then holds only what the caller actually heard.
    interrupted: boolean("interrupted").notNull().default(false),
    createdAt: createdAt(),
    // Latency waterfall of an agent turn, as the media node measured it (null for stages that did not happen).
    callerSpeechEndedAt: ts("caller_speech_ended_at"),
    sttFinalAt: ts("stt_final_at"),
    // The turn was decided and the model asked (so STT final → here is turn detection).
    llmRequestAt: ts("llm_request_at"),
    llmFirstTokenAt: ts("llm_first_token_at"),
    ttsFirstByteAt: ts("tts_first_byte_at"),
    firstAudioOutAt: ts("first_audio_out_at"),
    // Time on the critical path spent in our own code (queues, chunking, pacing), not waiting on a provider.
    platformOverheadMs: integer("platform_overhead_ms"),
    inputTokens: integer("input_tokens"),
    outputTokens: integer("output_tokens"),
    cacheReadTokens: integer("cache_read_tokens"),
    cacheWriteTokens: integer("cache_write_tokens"),
    modelId: text("model_id"),
    // The tools the agent ran in this turn (name, ok, ms), as the media node reported them; null on caller rows.
    tools: jsonb("tools").$type<{ id: string; name: string; ok: boolean; ms: number }[]>(),
    // The platform's own lines spoken in this turn (acknowledgement, filler, apology, goodbye), in the order spoken;
    // null on caller rows and on turns that had none. `text` holds the model's words (or these lines when it gave none).
    lines: jsonb("lines").$type<SpokenLine[]>(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    uniqueIndex("call_turns_tenant_call_turn_speaker_key").on(t.tenantId, t.callId, t.turnIndex, t.speaker),
    foreignKey({
      name: "call_turns_call_fk",
      columns: [t.tenantId, t.callId],
      foreignColumns: [calls.tenantId, calls.id],
    }),
    check("call_turns_speaker_check", sql`${t.speaker} in ('caller', 'agent')`),
  ],
);

export const ANALYSIS_STATUSES = ["completed", "failed"] as const;
export type AnalysisStatus = (typeof ANALYSIS_STATUSES)[number];

// Post-call analysis (issue 13): one row per call, written by the analysis queue consumer. `data` is stored only
// when it satisfied the agent's schema; otherwise it stays null and `data_errors` says why it was refused.
export const callAnalyses = pgTable(
  "call_analyses",
  {
    tenantId: text("tenant_id").notNull(),
    callId: text("call_id").notNull(),
    status: text("status").notNull().$type<AnalysisStatus>(),
    summary: text("summary"),
    successPass: boolean("success_pass"),
    successReason: text("success_reason"),
    data: jsonb("data").$type<Record<string, unknown>>(),
    dataErrors: jsonb("data_errors").$type<string[]>(),
    error: text("error"),
    modelId: text("model_id"),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.callId] }),
    foreignKey({
      name: "call_analyses_call_fk",
      columns: [t.tenantId, t.callId],
      foreignColumns: [calls.tenantId, calls.id],
    }),
    check("call_analyses_status_check", sql`${t.status} in ('completed', 'failed')`),
  ],
);

// What a call used, for pricing (workers/src/cost/). One row per (call, source, meter, variant, speculative), where
// the source is what reported it (`call`, `turn:<n>`, `analysis`): a redelivered report overwrites its own row
// instead of adding to it, so at-least-once delivery never double-bills. Quantities are in the meter's unit
// (minutes, seconds, tokens, characters); the variant is the model ID for token meters, else the product
// (`twilio/inbound`, `deepgram/nova-3`).
export const callUsage = pgTable(
  "call_usage",
  {
    tenantId: text("tenant_id").notNull(),
    callId: text("call_id").notNull(),
    source: text("source").notNull(),
    meter: text("meter").notNull(),
    variant: text("variant").notNull(),
    speculative: boolean("speculative").notNull().default(false),
    quantity: integer("quantity").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.callId, t.source, t.meter, t.variant, t.speculative] }),
    foreignKey({
      name: "call_usage_call_fk",
      columns: [t.tenantId, t.callId],
      foreignColumns: [calls.tenantId, calls.id],
    }),
  ],
);
