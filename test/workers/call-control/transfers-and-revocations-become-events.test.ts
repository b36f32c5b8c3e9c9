// The events besides a call's start and end reach the webhook queue from where they happen: a transfer (started, then
// redirected or failed) from the call ledger's outbox, a consent revoked through the API after its transaction
// commits. The queue's real consumer (Miniflare's) stores each event once per tenant before fanning it out, so the
// test reads `webhook_events`.
import { and, eq } from "drizzle-orm";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { ToolDefinition } from "../../../shared/agent-config.ts";
import type { SessionEvent } from "../../../shared/session-events.ts";
import { agentVersions, webhookEvents } from "../../../workers/src/db/schema.ts";
import { newResourceId } from "../../../workers/src/lib/ids.ts";
import { call, signUp } from "../helpers.ts";
import { type FakeCarriers, fakeCarriers } from "./fake-carriers.ts";
import { callRecord, edge, nodeRequest, seedTenantWithNumber, turn, twilioCallSid, withDb } from "./fixtures.ts";

const DESK = "+14155550123";
const NODE = "node-test-1";
const TOOLS: ToolDefinition[] = [
  {
    name: "transfer_call",
    description: "Transfer to the front desk.",
    inputSchema: { type: "object" },
    builtin: "transfer_call",
    allow: { numbers: [DESK] },
  },
];

let carriers: FakeCarriers;
beforeEach(() => {
  carriers = fakeCarriers();
});
afterEach(() => carriers.restore());

type Stored = { type: string; data: Record<string, unknown> };

async function eventsOf(tenantId: string, count: number): Promise<Stored[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const rows = await withDb((db) => db.select().from(webhookEvents).where(eq(webhookEvents.tenantId, tenantId)));
    if (rows.length >= count) return rows.map((r) => JSON.parse(r.body) as Stored);
    if (Date.now() > deadline) throw new Error(`only ${rows.length} of ${count} events arrived`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function transferCall(): Promise<{ tenantId: string; callId: string }> {
  const tenant = await seedTenantWithNumber();
  const versionId = newResourceId("agv");
  await withDb(async (db) => {
    const [first] = await db.select().from(agentVersions).where(eq(agentVersions.id, tenant.versionId));
    if (!first) throw new Error("no version");
    await db.insert(agentVersions).values({ ...first, id: versionId, version: 2, tools: TOOLS, createdAt: new Date() });
  });
  const record = callRecord(tenant.tenantId, {
    agentId: tenant.agentId,
    agentVersionId: versionId,
    agentVersion: 2,
    toNumber: tenant.number,
    providerCallSid: twilioCallSid(),
    nodeId: NODE,
  });
  const session = edge.CALL_LEDGER.getByName(record.callId);
  expect((await session.open({ record, state: "routed", leaseHeld: false })).ok).toBe(true);
  expect(
    (await nodeRequest("POST", `/v1/calls/${record.callId}/actions`, { type: "transfer_call" }, NODE)).status,
  ).toBe(200);
  const action: SessionEvent = {
    type: "action",
    callId: record.callId,
    seq: 0,
    turnIndex: 1,
    action: { type: "transfer_call", to: DESK },
    at: Date.now(),
  };
  expect((await nodeRequest("POST", `/v1/calls/${record.callId}/events`, action, NODE)).status).toBe(202);
  expect((await nodeRequest("POST", `/v1/calls/${record.callId}/events`, turn(record, 1, 1), NODE)).status).toBe(202);
  await session.flushOutbox();
  return { tenantId: record.tenantId, callId: record.callId };
}

it("a carried-out transfer sends transfer.started, transfer.ended (redirected) and call.ended", async () => {
  const { tenantId, callId } = await transferCall();
  const events = await eventsOf(tenantId, 3);
  expect(events.map((e) => e.type).sort()).toEqual(["call.ended", "transfer.ended", "transfer.started"]);
  expect(events.find((e) => e.type === "transfer.started")?.data).toMatchObject({ callId, to: DESK });
  expect(events.find((e) => e.type === "transfer.ended")?.data).toMatchObject({
    callId,
    to: DESK,
    outcome: "redirected",
  });
  expect(events.find((e) => e.type === "call.ended")?.data).toMatchObject({
    callId,
    endReason: `transferred to ${DESK}`,
  });
});

it("a transfer Twilio refuses ends with outcome failed", async () => {
  carriers.failTwilio(404, 20404, "The requested resource was not found");
  const { tenantId } = await transferCall();
  const events = await eventsOf(tenantId, 2);
  expect(events.map((e) => e.type).sort()).toEqual(["transfer.ended", "transfer.started"]);
  expect(events.find((e) => e.type === "transfer.ended")?.data).toMatchObject({ outcome: "failed" });
});

it("revoking consent through the API sends consent.revoked once, after the write committed", async () => {
  const tenant = await signUp("Consent Events");
  const created = await call<{ id: string }>("POST", "/v1/consent", {
    key: tenant.key,
    body: { phoneNumber: "+16505550177", type: "marketing", verificationMethod: "checkbox" },
  });
  expect((await call("POST", `/v1/consent/${created.body.id}/revoke`, { key: tenant.key })).status).toBe(200);
  // Revoking it again changes nothing, and sends nothing.
  expect((await call("POST", `/v1/consent/${created.body.id}/revoke`, { key: tenant.key })).status).toBe(200);
  const [event] = await eventsOf(tenant.accountId, 1);
  expect(event).toMatchObject({
    type: "consent.revoked",
    data: { consentId: created.body.id, phoneNumber: "+16505550177", type: "marketing", via: "api" },
  });
  await new Promise((r) => setTimeout(r, 1_500));
  const rows = await withDb((db) =>
    db
      .select()
      .from(webhookEvents)
      .where(and(eq(webhookEvents.tenantId, tenant.accountId), eq(webhookEvents.type, "consent.revoked"))),
  );
  expect(rows).toHaveLength(1);
});
