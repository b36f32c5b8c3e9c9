// The outbox's two writes. Both are idempotent upserts, so an item retried after a timeout that actually
// committed changes nothing: calls by (tenant_id, id), turns by (tenant_id, call_id, turn_index, speaker).
import { sql } from "drizzle-orm";
import { calls, callTurns } from "../../db/schema.ts";
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
      llmFirstTokenAt: date(turn.llmFirstTokenAt),
      ttsFirstByteAt: date(turn.ttsFirstByteAt),
      firstAudioOutAt: date(turn.firstAudioOutAt),
    })
    .onConflictDoNothing({ target: [callTurns.tenantId, callTurns.callId, callTurns.turnIndex, callTurns.speaker] });
}

/** Cheap liveness probe used by tests and health checks. */
export async function ping(db: Db): Promise<void> {
  await db.execute(sql`select 1`);
}
