import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { calls, callTurns } from "../../../workers/src/db/schema.ts";
import type { CallLedger } from "../../../workers/src/do/call-ledger/call-ledger.ts";
import { callRecord, edge, ended, seedTenant, started, turn, withDb } from "./fixtures.ts";

const UNREACHABLE = { DATABASE_URL: "postgres://postgres@127.0.0.1:1/unreachable" };

async function stored(tenantId: string, callId: string) {
  return withDb(async (db) => {
    const [call] = await db
      .select()
      .from(calls)
      .where(and(eq(calls.tenantId, tenantId), eq(calls.id, callId)));
    const turns = await db
      .select({ turnIndex: callTurns.turnIndex, speaker: callTurns.speaker, text: callTurns.text })
      .from(callTurns)
      .where(and(eq(callTurns.tenantId, tenantId), eq(callTurns.callId, callId)))
      .orderBy(callTurns.turnIndex, callTurns.speaker);
    return { call, turns };
  });
}

describe("CallLedger outbox", () => {
  it("loses no finished turn while Postgres is down, and writes each exactly once when it is back", async () => {
    const tenantId = await seedTenant();
    const record = callRecord(tenantId);
    const session = edge.CALL_LEDGER.getByName(record.callId);
    await runInDurableObject(session, (instance: CallLedger) => {
      instance.dbOverride = UNREACHABLE;
    });

    await session.open({ record, state: "routed", leaseHeld: false });
    await session.ingest(started(record, 0));
    for (let i = 0; i < 3; i++) await session.ingest(turn(record, i, i + 1));
    await session.ingest(ended(record, 4, 3));

    // The database is unreachable: the flush fails, keeps everything, and schedules a retry.
    await runDurableObjectAlarm(session);
    expect((await stored(tenantId, record.callId)).call).toBeUndefined();
    const waiting = await session.snapshot();
    expect(waiting?.pending).toBeGreaterThan(0);
    const retryAt = await runInDurableObject(session, (_i: CallLedger, state) => state.storage.getAlarm());
    expect(retryAt).not.toBeNull();

    // Restored: the next alarm writes the call and all its turns.
    const items = await runInDurableObject(session, (instance: CallLedger, state) => {
      instance.dbOverride = undefined;
      return state.storage.sql.exec<{ payload: string }>("SELECT payload FROM outbox ORDER BY seq").toArray();
    });
    await runDurableObjectAlarm(session);
    expect((await session.snapshot())?.pending).toBe(0);
    const after = await stored(tenantId, record.callId);
    expect(after.call).toMatchObject({
      status: "completed",
      endReason: "caller-hung-up",
      providerCallSid: record.providerCallSid,
    });
    expect(after.turns.map((t) => `${t.turnIndex}:${t.speaker}`)).toEqual([
      "0:agent",
      "1:agent",
      "1:caller",
      "2:agent",
      "2:caller",
    ]);

    // A retry of items that had in fact committed (an ambiguous failure) is written again and changes nothing.
    const replayed = await runInDurableObject(session, async (instance: CallLedger, state) => {
      for (const { payload } of items) state.storage.sql.exec("INSERT INTO outbox (payload) VALUES (?)", payload);
      return instance.flushOutbox();
    });
    expect(replayed).toEqual({ written: items.length, remaining: 0 });
    const again = await stored(tenantId, record.callId);
    expect(again).toEqual(after);
    const counted = (await withDb((db) =>
      db.execute(
        sql`select count(*)::int as n from call_turns where tenant_id = ${tenantId} and call_id = ${record.callId}`,
      ),
    )) as unknown as { rows: { n: number }[] };
    expect(counted.rows[0]?.n).toBe(5);
  });
});
