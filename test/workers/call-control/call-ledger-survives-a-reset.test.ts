// A Durable Object reset (eviction, a deploy, a crash of its isolate) mid-call loses nothing: the CallLedger's state,
// its checkpoints and its outbox are in its SQLite storage, and its alarm is stored too, so the next instance
// carries on where the last one stopped.
import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { callTurns } from "../../../workers/src/db/schema.ts";
import type { CallLedger } from "../../../workers/src/do/call-ledger/call-ledger.ts";
import { agentHeard, callerFinal, callRecord, edge, seedTenant, started, turn, withDb } from "./fixtures.ts";

describe("a CallLedger reset mid-call", () => {
  it("keeps the call's state, checkpoints and outbox, and its alarm writes them once it is back", async () => {
    const tenantId = await seedTenant();
    const record = callRecord(tenantId);
    const before = edge.CALL_LEDGER.getByName(record.callId);
    // Postgres is unreachable, so everything stays in the outbox across the reset.
    await runInDurableObject(before, (instance: CallLedger) => {
      instance.dbOverride = { DATABASE_URL: "postgres://postgres@127.0.0.1:1/unreachable" };
    });
    await before.open({ record, state: "routed", leaseHeld: false });
    await before.ingest(started(record, 0));
    await before.ingest(turn(record, 0, 1, { userText: "", assistantText: "Hello!", generatedText: "Hello!" }));
    await before.ingest(callerFinal(record, 1, 2, "I want to move my appointment."));
    await before.ingest(agentHeard(record, 1, 3, "Sure, which day"));
    await runDurableObjectAlarm(before);
    const pending = (await before.snapshot())?.pending ?? 0;
    expect(pending).toBeGreaterThan(0);

    await abortAllDurableObjects();

    const after = edge.CALL_LEDGER.getByName(record.callId);
    const snapshot = await after.snapshot();
    expect(snapshot).toMatchObject({ state: "in-progress", pending, record: { nodeId: "node-1" } });
    // The retry is still scheduled: nobody has to poke the object for the outbox to drain.
    expect(await runInDurableObject(after, (_i: CallLedger, state) => state.storage.getAlarm())).not.toBeNull();
    // Events already applied before the reset are still applied once.
    await after.ingest(agentHeard(record, 1, 3, "Sure, which day"));
    expect((await after.snapshot())?.pending).toBe(pending);

    // The conversation as heard is there for a node that resumes the call.
    await after.reroute({ region: "us-east-1", nodeId: "node-test-2", nonce: "n".repeat(22), stream: 0 });
    const claimed = await after.claimResume({ nodeId: "node-test-2", nonce: "n".repeat(22), resume: 1 });
    expect(claimed).toMatchObject({
      ok: true,
      checkpoint: {
        history: [{ index: 0, role: "assistant", text: "Hello!" }],
        inProgress: { index: 1, callerText: "I want to move my appointment.", agentHeard: "Sure, which day" },
        nextTurnIndex: 2,
      },
    });

    // The new instance has the real database: the alarm writes every row, once.
    await runDurableObjectAlarm(after);
    await after.flushOutbox();
    expect((await after.snapshot())?.pending).toBe(0);
    const rows = await withDb((db) =>
      db
        .select({ index: callTurns.turnIndex, speaker: callTurns.speaker, text: callTurns.text })
        .from(callTurns)
        .where(and(eq(callTurns.tenantId, tenantId), eq(callTurns.callId, record.callId)))
        .orderBy(callTurns.turnIndex, callTurns.speaker),
    );
    expect(rows).toEqual([
      { index: 0, speaker: "agent", text: "Hello!" },
      { index: 1, speaker: "agent", text: "Sure, which day" },
      { index: 1, speaker: "caller", text: "I want to move my appointment." },
    ]);
  });
});
