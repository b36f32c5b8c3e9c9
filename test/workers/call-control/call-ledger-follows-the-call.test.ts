import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { callTurns } from "../../../workers/src/db/schema.ts";
import type { CallLedger, LiveMessage } from "../../../workers/src/do/call-ledger/call-ledger.ts";
import { callRecord, edge, ended, seedTenant, started, turn, withDb } from "./fixtures.ts";

/** A live-feed subscriber, connected straight to the session object. */
async function subscribe(session: DurableObjectStub<CallLedger>) {
  const response = await session.fetch("http://session/live", { headers: { Upgrade: "websocket" } });
  const socket = response.webSocket;
  if (!socket) throw new Error(`no websocket (${response.status})`);
  const messages: LiveMessage[] = [];
  socket.addEventListener("message", (e) => {
    messages.push(JSON.parse(String(e.data)) as LiveMessage);
  });
  socket.accept();
  return {
    messages,
    until: (match: (m: LiveMessage) => boolean) =>
      new Promise<void>((resolve, reject) => {
        const deadline = Date.now() + 5_000;
        const check = () => {
          if (messages.some(match)) resolve();
          else if (Date.now() > deadline) reject(new Error(`no such message in ${JSON.stringify(messages)}`));
          else setTimeout(check, 10);
        };
        check();
      }),
    close: () => socket.close(),
  };
}

describe("CallLedger", () => {
  it("moves routed → connected → in-progress → ended as the media node reports", async () => {
    const record = callRecord(await seedTenant());
    const session = edge.CALL_LEDGER.getByName(record.callId);
    expect(await session.open({ record, state: "routed", leaseHeld: false })).toMatchObject({ ok: true });
    expect(await session.ingest(started(record, 0))).toMatchObject({ ok: true, snapshot: { state: "connected" } });
    expect(await session.ingest(turn(record, 0, 1))).toMatchObject({ ok: true, snapshot: { state: "in-progress" } });
    const end = await session.ingest(ended(record, 2, 1));
    expect(end).toMatchObject({
      ok: true,
      snapshot: { state: "ended", record: { status: "completed", endReason: "caller-hung-up" } },
    });
    const snapshot = await session.snapshot();
    expect(snapshot?.transitions.map((t) => t.state)).toEqual([
      "initiated",
      "routed",
      "connected",
      "in-progress",
      "ended",
    ]);
  });

  it("refuses illegal transitions and events naming another tenant", async () => {
    const record = callRecord(await seedTenant());
    const session = edge.CALL_LEDGER.getByName(record.callId);
    await session.open({ record, state: "routed", leaseHeld: false });
    await session.ingest(started(record, 0));
    expect(await session.route({ region: "us-west-2", nodeId: "other" })).toEqual({
      ok: false,
      error: "illegal-transition",
      from: "connected",
      to: "routed",
    });
    const forged = { ...started(record, 1), tenantId: "AYB-SOMEONE-ELSE" };
    expect(await session.ingest(forged)).toMatchObject({ ok: false, error: "mismatch" });
    expect(await edge.CALL_LEDGER.getByName("call_unknown").ingest(started(record))).toEqual({
      ok: false,
      error: "not-found",
    });
  });

  it("applies a redelivered event once", async () => {
    const record = callRecord(await seedTenant());
    const session = edge.CALL_LEDGER.getByName(record.callId);
    await session.open({ record, state: "routed", leaseHeld: false });
    const live = await subscribe(session);
    await session.ingest(started(record, 0));
    await session.ingest(turn(record, 1, 1));
    await session.ingest(turn(record, 1, 1));
    await session.ingest(turn(record, 2, 2));
    await live.until((m) => m.type === "event" && m.event.type === "turn" && m.event.index === 2);
    const turns = live.messages.filter((m) => m.type === "event" && m.event.type === "turn");
    expect(turns).toHaveLength(2);
    live.close();
    await session.flushOutbox();
    const rows = await withDb((db) =>
      db.select({ i: callTurns.turnIndex }).from(callTurns).where(eq(callTurns.callId, record.callId)),
    );
    expect(rows).toHaveLength(4);
  });

  it("keeps a turn that arrives after the carrier already ended the call", async () => {
    const record = callRecord(await seedTenant());
    const session = edge.CALL_LEDGER.getByName(record.callId);
    await session.open({ record, state: "routed", leaseHeld: false });
    await session.end({ status: "completed", reason: "carrier-completed" });
    expect(await session.ingest(turn(record, 1, 5))).toMatchObject({ ok: true, snapshot: { state: "ended" } });
    await session.flushOutbox();
    const rows = await withDb((db) =>
      db.select({ speaker: callTurns.speaker }).from(callTurns).where(eq(callTurns.callId, record.callId)),
    );
    expect(rows.map((r) => r.speaker).sort()).toEqual(["agent", "caller"]);
  });

  it("confirms the tenant's lease when the node reports, and gives it back when the call ends", async () => {
    const tenantId = await seedTenant();
    const record = callRecord(tenantId);
    const limiter = edge.TENANT_LIMITER.getByName(tenantId);
    await limiter.admitCall({ callId: record.callId, plan: "free" });
    const session = edge.CALL_LEDGER.getByName(record.callId);
    await session.open({ record, state: "routed", leaseHeld: true });
    await session.ingest(started(record, 0));
    expect(await limiter.leases()).toMatchObject([{ callId: record.callId, reported: true }]);
    await session.end({ status: "completed", reason: "carrier-completed" });
    expect(await limiter.leases()).toEqual([]);
    expect((await session.snapshot())?.leaseHeld).toBe(false);
  });

  it("streams a snapshot, then live events, to WebSocket subscribers", async () => {
    const record = callRecord(await seedTenant());
    const session = edge.CALL_LEDGER.getByName(record.callId);
    await session.open({ record, state: "routed", leaseHeld: false });
    const live = await subscribe(session);
    await live.until((m) => m.type === "snapshot");
    expect(live.messages[0]).toMatchObject({ type: "snapshot", snapshot: { state: "routed" } });
    await session.ingest(started(record, 0));
    await session.ingest(turn(record, 1, 1));
    await live.until((m) => m.type === "event" && m.event.type === "turn");
    expect(live.messages.slice(1).map((m) => (m.type === "event" ? m.event.type : m.type))).toEqual([
      "state",
      "call.started",
      "turn",
    ]);
    live.close();
  });
});
