// The analysis queue inside workerd: the CallLedger's outbox enqueues an ended call once its transcript is in
// Postgres, and the Worker's own queue() consumer stores an outcome for it. These suites have no Bedrock, so the
// outcome is the honest failure an unconfigured edge records; the analysis itself runs against the Bedrock emulator
// in test/node/e2e/call-is-analyzed-and-priced-after-it-ends.test.ts.
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { consumeAnalysisBatch } from "../../workers/src/analysis/consumer.ts";
import type { Env } from "../../workers/src/env.ts";
import { callRecord, edge, started, turn } from "./call-control/fixtures.ts";
import { call, createAgent, seedCall, signUp } from "./helpers.ts";

type Analysis = { status: string; error: string | null; summary: string | null; data: unknown } | null;

const analysis = {
  successRubric: 'Passes when the caller says "thanks".',
  dataSchema: { type: "object", properties: {} },
};

async function analysisOf(key: string, callId: string): Promise<Analysis> {
  const r = await call<{ analysis: Analysis }>("GET", `/v1/calls/${callId}`, { key });
  expect(r.status).toBe(200);
  return r.body.analysis;
}

describe("the analysis queue", () => {
  it("carries an ended call from its ledger to the consumer, which stores an outcome the API serves", async () => {
    const t = await signUp("Queued");
    const agent = await createAgent(t, { publish: true, config: { systemPrompt: "You answer the phone.", analysis } });
    const record = callRecord(t.accountId, { agentId: agent.id, agentVersionId: agent.versionId as string });
    const ledger = edge.CALL_LEDGER.getByName(record.callId);
    await ledger.open({ record, state: "routed", leaseHeld: false });
    await ledger.ingest(started(record, 0));
    await ledger.ingest(turn(record, 1, 1));
    // The carrier's status callback first: the node's last turn may still come, so the analysis only waits.
    const byCarrier = await ledger.end({ status: "completed", reason: "carrier-completed" });
    expect(byCarrier).toMatchObject({ ok: true, snapshot: { analysisQueued: "delayed" } });
    // The node's own end, after its last turn: queued at once, behind the transcript in the outbox.
    await ledger.ingest(turn(record, 2, 2));
    const byNode = await ledger.ingest({
      type: "call.ended",
      callId: record.callId,
      seq: 3,
      reason: "caller-hung-up",
      durationMs: 5_000,
      turns: 2,
      at: Date.now(),
    });
    expect(byNode).toMatchObject({ ok: true, snapshot: { analysisQueued: "now" } });
    await ledger.flushOutbox();
    let stored: Analysis = null;
    for (let i = 0; i < 50 && !stored; i++) {
      await new Promise((r) => setTimeout(r, 100));
      stored = await analysisOf(t.key, record.callId);
    }
    expect(stored).toMatchObject({ status: "failed", summary: null, data: null });
    expect(stored?.error).toMatch(/Bedrock is not configured/);
  });

  it("acks a malformed message and a call whose agent asks for no analysis, storing nothing", async () => {
    const t = await signUp("No analysis");
    const agent = await createAgent(t, { publish: true });
    const callId = await seedCall(t.accountId, { agentId: agent.id, agentVersionId: agent.versionId as string });
    const batch = createMessageBatch("aybiza-call-analysis", [
      { id: "m1", timestamp: new Date(), attempts: 1, body: { tenantId: t.accountId, callId, jurisdiction: "us" } },
      { id: "m2", timestamp: new Date(), attempts: 1, body: { callId: 42 } },
    ]);
    const ctx = createExecutionContext();
    await consumeAnalysisBatch(batch, env as unknown as Env);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks.sort()).toEqual(["m1", "m2"]);
    expect(result.retryMessages).toEqual([]);
    expect(await analysisOf(t.key, callId)).toBeNull();
  });

  it("refuses an agent whose data schema is not an object schema, and turns analysis off with null", async () => {
    const t = await signUp("Bad schema");
    const r = await call<{ errors: { pointer: string }[] }>("POST", "/v1/agents", {
      key: t.key,
      body: {
        name: "x",
        config: { systemPrompt: "You answer the phone.", analysis: { dataSchema: { type: "string" } } },
      },
    });
    expect(r.status).toBe(400);
    expect(r.body.errors.map((e) => e.pointer)).toEqual(["/config/analysis/dataSchema"]);

    const agent = await createAgent(t, { config: { systemPrompt: "You answer the phone.", analysis } });
    const off = await call<{ config: { analysis: unknown } }>("PATCH", `/v1/agents/${agent.id}`, {
      key: t.key,
      body: { config: { analysis: null } },
    });
    expect(off.status).toBe(200);
    expect(off.body.config.analysis).toBeNull();
  });
});
