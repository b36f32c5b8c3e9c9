// Each finished piece of a turn (the caller's final words, the agent's reply as heard at each mark) is in the call's
// CallLedger the moment it arrives and on its way to Postgres, so a node that dies mid-answer loses nothing the caller
// said or heard. The turn's own event supersedes the pieces without duplicating a row.
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { callTurns } from "../../../workers/src/db/schema.ts";
import type { CallRecord } from "../../../workers/src/do/call-ledger/records.ts";
import { agentHeard, callerFinal, callRecord, edge, seedTenant, started, turn, withDb } from "./fixtures.ts";

async function storedTurns(record: CallRecord) {
  return withDb((db) =>
    db
      .select({
        index: callTurns.turnIndex,
        speaker: callTurns.speaker,
        text: callTurns.text,
        cut: callTurns.interrupted,
      })
      .from(callTurns)
      .where(and(eq(callTurns.tenantId, record.tenantId), eq(callTurns.callId, record.callId)))
      .orderBy(callTurns.turnIndex, callTurns.speaker),
  );
}

describe("CallLedger checkpoints", () => {
  it("stores the caller's final words and the reply as heard at once, and the turn's event completes them", async () => {
    const record = callRecord(await seedTenant());
    const session = edge.CALL_LEDGER.getByName(record.callId);
    await session.open({ record, state: "routed", leaseHeld: false });
    await session.ingest(started(record, 0));
    await session.ingest(turn(record, 0, 1, { userText: "", assistantText: "Hello!", generatedText: "Hello!" }));
    await session.ingest(callerFinal(record, 1, 2, "Where is order 4471?"));
    await session.ingest(agentHeard(record, 1, 3, "Let me look."));
    await session.ingest(agentHeard(record, 1, 4, "Let me look. It left the warehouse"));
    expect((await session.snapshot())?.pending).toBeGreaterThan(0);

    // The node dies here. What the caller said and heard is already on its way to Postgres.
    await session.flushOutbox();
    expect(await storedTurns(record)).toEqual([
      { index: 0, speaker: "agent", text: "Hello!", cut: false },
      { index: 1, speaker: "agent", text: "Let me look. It left the warehouse", cut: true },
      { index: 1, speaker: "caller", text: "Where is order 4471?", cut: false },
    ]);

    // Had it lived, the turn's own event replaces the pieces: one row per speaker, the whole reply.
    const whole = "Let me look. It left the warehouse yesterday.";
    await session.ingest(
      turn(record, 1, 5, { userText: "Where is order 4471?", assistantText: whole, generatedText: whole }),
    );
    // A mark that arrives after its turn changes nothing.
    await session.ingest(agentHeard(record, 1, 6, "Let me look."));
    await session.flushOutbox();
    expect(await storedTurns(record)).toEqual([
      { index: 0, speaker: "agent", text: "Hello!", cut: false },
      { index: 1, speaker: "agent", text: whole, cut: false },
      { index: 1, speaker: "caller", text: "Where is order 4471?", cut: false },
    ]);
  });

  it("keeps one caller row for a turn the node folded into the next (the caller went on before any answer)", async () => {
    const record = callRecord(await seedTenant());
    const session = edge.CALL_LEDGER.getByName(record.callId);
    await session.open({ record, state: "routed", leaseHeld: false });
    await session.ingest(started(record, 0));
    // Turn 1 ends on a pause and is checkpointed; the caller goes on before anything is heard, and the node answers
    // both parts as turn 2. Postgres may already hold turn 1's words when the fold arrives.
    await session.ingest(callerFinal(record, 1, 1, "I'd like to book"));
    await session.flushOutbox();
    const whole = "I'd like to book a repair for Tuesday.";
    await session.ingest({ ...callerFinal(record, 2, 2, whole), folds: 1 });
    await session.ingest(turn(record, 2, 3, { userText: whole, assistantText: "Sure.", generatedText: "Sure." }));
    await session.flushOutbox();
    expect(await storedTurns(record)).toEqual([
      { index: 2, speaker: "agent", text: "Sure.", cut: false },
      { index: 2, speaker: "caller", text: whole, cut: false },
    ]);
    // A node that resumes the call is not told the caller said the first part twice.
    const claim = await session.reroute({ region: "us-east-1", nodeId: "node-2", nonce: "n1", stream: 0 });
    expect(claim.ok).toBe(true);
    const resumed = await session.claimResume({ nodeId: "node-2", nonce: "n1", resume: 1 });
    if (!resumed.ok) throw new Error(resumed.error);
    expect(resumed.checkpoint.history.map((m) => m.text)).toEqual([whole, "Sure."]);

    // A fold never drops words the caller got an answer to, nor a turn before the resume.
    await session.ingest({ ...callerFinal(record, 3, 0, "Thanks"), folds: 2 });
    await session.flushOutbox();
    expect((await storedTurns(record)).filter((t) => t.speaker === "caller").map((t) => t.text)).toEqual([
      whole,
      "Thanks",
    ]);
  });

  it("refuses a checkpoint event that names another call or breaks the schema", async () => {
    const { SessionEventSchema } = await import("../../../shared/session-events.ts");
    const record = callRecord(await seedTenant());
    expect(SessionEventSchema.safeParse(callerFinal(record, 1, 0, "hi")).success).toBe(true);
    expect(SessionEventSchema.safeParse({ ...agentHeard(record, 1, 0, "hi"), index: -1 }).success).toBe(false);
    expect(SessionEventSchema.safeParse({ ...callerFinal(record, 1, 0, "hi"), extra: 1 }).success).toBe(false);
    const session = edge.CALL_LEDGER.getByName(record.callId);
    await session.open({ record, state: "routed", leaseHeld: false });
    const other = callRecord(record.tenantId);
    expect(await session.ingest(callerFinal(other, 1, 0, "hi"))).toMatchObject({ ok: false, error: "mismatch" });
  });
});
