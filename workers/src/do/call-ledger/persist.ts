// The outbox's two writes. Both are idempotent upserts, so an item retried after a timeout that actually
// committed changes nothing: calls by (tenant_id, id), turns by (tenant_id, call_id, turn_index, speaker).
import { and, eq, sql } from "drizzle-orm";
import type { UsageRow } from "../../cost/meters.ts";
import { calls, callTurns, callUsage } from "../../db/schema.ts";
import type { Db } from "../../db/types.ts";
import type { CallRecord, TurnRow } from "./records.ts";

const date = (value: number | null | undefined) => (value === null || value === undefined ? null : new Date(value));

export async function upsertCall(db: Db, record: CallRecord): Promise<void> {
  const row = {
    tenantId: record.tenantId,
    id: record.callId,
    direction: record.direction,
    fromNumber: record.fromNumber,
    toNumber: record.toNumber,
    status: record.status,
    region: record.region,
    agentId: record.agentId,
    agentVersionId: record.agentVersionId,
    provider: record.provider,
    providerCallSid: record.providerCallSid,
    createdAt: new Date(record.createdAt),
    answeredAt: date(record.answeredAt),
    endedAt: date(record.endedAt),
    endReason: record.endReason,
  };
  await db
    .insert(calls)
    .values(row)
    .onConflictDoUpdate({
      target: [calls.tenantId, calls.id],
      set: {
        status: row.status,
        region: row.region,
        providerCallSid: row.providerCallSid,
        answeredAt: row.answeredAt,
        endedAt: row.endedAt,
        endReason: row.endReason,
      },
    });
}

export async function upsertTurn(db: Db, turn: TurnRow): Promise<void> {
  await db
    .insert(callTurns)
    .values({
      ...turn,
      createdAt: new Date(turn.createdAt),
      callerSpeechEndedAt: date(turn.callerSpeechEndedAt),
      sttFinalAt: date(turn.sttFinalAt),
      llmRequestAt: date(turn.llmRequestAt),
      tools: turn.tools ?? null,
      lines: turn.lines ?? null,
      llmFirstTokenAt: date(turn.llmFirstTokenAt),
      ttsFirstByteAt: date(turn.ttsFirstByteAt),
      firstAudioOutAt: date(turn.firstAudioOutAt),
    })
    // A checkpoint row is superseded by a longer one, then by the turn's own; the outbox writes in order, so the
    // last write is the newest. Replaying one item writes the same values again. The row keeps its first id.
    .onConflictDoUpdate({
      target: [callTurns.tenantId, callTurns.callId, callTurns.turnIndex, callTurns.speaker],
      set: {
        text: sql`excluded.text`,
        interrupted: sql`excluded.interrupted`,
        createdAt: sql`excluded.created_at`,
        callerSpeechEndedAt: sql`excluded.caller_speech_ended_at`,
        sttFinalAt: sql`excluded.stt_final_at`,
        llmRequestAt: sql`excluded.llm_request_at`,
        llmFirstTokenAt: sql`excluded.llm_first_token_at`,
        ttsFirstByteAt: sql`excluded.tts_first_byte_at`,
        firstAudioOutAt: sql`excluded.first_audio_out_at`,
        platformOverheadMs: sql`excluded.platform_overhead_ms`,
        inputTokens: sql`excluded.input_tokens`,
        outputTokens: sql`excluded.output_tokens`,
        cacheReadTokens: sql`excluded.cache_read_tokens`,
        cacheWriteTokens: sql`excluded.cache_write_tokens`,
        modelId: sql`excluded.model_id`,
        tools: sql`excluded.tools`,
        lines: sql`excluded.lines`,
      },
    });
}

/** A caller row checkpointed for a turn the node then folded into the next one: it never was a turn of its own. */
export async function deleteCallerTurn(db: Db, row: { tenantId: string; callId: string; turnIndex: number }) {
  await db
    .delete(callTurns)
    .where(
      and(
        eq(callTurns.tenantId, row.tenantId),
        eq(callTurns.callId, row.callId),
        eq(callTurns.turnIndex, row.turnIndex),
        eq(callTurns.speaker, "caller"),
      ),
    );
}

/**
 * A report's meter rows for one call. Each row is keyed by the source that reported it, so a report delivered
 * twice sets the same quantities again instead of adding them twice.
 */
export async function upsertUsage(
  db: Pick<Db, "insert">,
  tenantId: string,
  callId: string,
  rows: readonly UsageRow[],
): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insert(callUsage)
    .values(rows.map((r) => ({ tenantId, callId, ...r })))
    .onConflictDoUpdate({
      target: [
        callUsage.tenantId,
        callUsage.callId,
        callUsage.source,
        callUsage.meter,
        callUsage.variant,
        callUsage.speculative,
      ],
      set: { quantity: sql`excluded.quantity` },
    });
}

/** Cheap liveness probe used by tests and health checks. */
export async function ping(db: Db): Promise<void> {
  await db.execute(sql`select 1`);
}
