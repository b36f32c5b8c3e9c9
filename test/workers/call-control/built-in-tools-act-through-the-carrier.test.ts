// The built-in tools as the edge carries them out for the media node running the call: a transfer redirects the live
// Twilio call once the agent's line has played, a text goes out from the call's number to the caller, verification
// runs the real service for the call's own tenant, and a handoff's context packet stays with the call. Only the node
// the call was routed to may ask, or report events.
import { and, eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ToolDefinition } from "../../../shared/agent-config.ts";
import type { CallActionRequest } from "../../../shared/call-actions.ts";
import { type AccountId, spellIdForSpeech } from "../../../shared/ids.ts";
import type { SessionEvent } from "../../../shared/session-events.ts";
import { accounts, agents, agentVersions, calls } from "../../../workers/src/db/schema.ts";
import type { CallRecord } from "../../../workers/src/do/call-ledger/records.ts";
import { newResourceId } from "../../../workers/src/lib/ids.ts";
import { compileVersion } from "../../../workers/src/prefix/runtime-config.ts";
import { auditActions } from "../helpers.ts";
import { type FakeCarriers, fakeCarriers } from "./fake-carriers.ts";
import {
  callRecord,
  edge,
  nodeRequest,
  seedTenantWithNumber,
  testBindings,
  turn,
  twilioCallSid,
  withDb,
} from "./fixtures.ts";

const DESK = "+14155550123";
const BILLING = "+14155550124";
const CALLER = "+14155550188";
const NODE = "node-test-1";

const TOOLS: ToolDefinition[] = [
  { name: "end_call", description: "End.", inputSchema: { type: "object" }, builtin: "end_call" },
  {
    name: "transfer_call",
    description: "Transfer to the front desk or billing.",
    inputSchema: { type: "object" },
    builtin: "transfer_call",
    allow: { numbers: [DESK, BILLING] },
  },
  { name: "send_sms", description: "Text the caller.", inputSchema: { type: "object" }, builtin: "send_sms" },
  { name: "verify", description: "Start.", inputSchema: { type: "object" }, builtin: "start_verification" },
  { name: "check", description: "Check.", inputSchema: { type: "object" }, builtin: "check_verification" },
  { name: "handoff", description: "Hand off.", inputSchema: { type: "object" }, builtin: "handoff_to_agent" },
];

let carriers: FakeCarriers;
beforeEach(() => {
  carriers = fakeCarriers();
});
afterEach(() => carriers.restore());

/** A live inbound Twilio call on a tenant whose agent has every built-in, routed to node-test-1. */
async function liveCall(over: Partial<CallRecord> = {}) {
  const tenant = await seedTenantWithNumber();
  // Versions are immutable: version 2 is version 1 with every built-in.
  const versionId = newResourceId("agv");
  await withDb(async (db) => {
    const [first] = await db.select().from(agentVersions).where(eq(agentVersions.id, tenant.versionId));
    await db
      .insert(agentVersions)
      .values({ ...first!, id: versionId, version: 2, tools: TOOLS, createdAt: new Date() });
  });
  const record = callRecord(tenant.tenantId, {
    agentId: tenant.agentId,
    agentVersionId: versionId,
    agentVersion: 2,
    fromNumber: CALLER,
    toNumber: tenant.number,
    providerCallSid: twilioCallSid(),
    nodeId: NODE,
    ...over,
  });
  const session = edge.CALL_LEDGER.getByName(record.callId);
  const opened = await session.open({ record, state: "routed", leaseHeld: false });
  expect(opened.ok).toBe(true);
  return { tenant, record, session };
}

const act = (callId: string, body: CallActionRequest, nodeId = NODE) =>
  nodeRequest("POST", `/v1/calls/${callId}/actions`, body, nodeId);
const report = (event: SessionEvent, nodeId = NODE) =>
  nodeRequest("POST", `/v1/calls/${event.callId}/events`, event, nodeId);

const basicAuth = `Basic ${btoa(`${testBindings.TWILIO_ACCOUNT_SID}:${testBindings.TWILIO_AUTH_TOKEN}`)}`;

describe("transfer_call", () => {
  it("redirects the Twilio call to the allowed number after the turn's line has played, and ends our call", async () => {
    const { record, session } = await liveCall();
    const armed = await act(record.callId, { type: "transfer_call", to: BILLING, reason: "billing question" });
    expect(armed.status).toBe(200);
    expect(await armed.json()).toEqual({ type: "transfer_call", status: "scheduled", to: BILLING });

    // The node reports the action with its turn; the agent is still speaking, so nothing happens yet.
    const action: SessionEvent = {
      type: "action",
      callId: record.callId,
      seq: 0,
      turnIndex: 3,
      action: { type: "transfer_call", to: BILLING, reason: "billing question" },
      at: Date.now(),
    };
    expect((await report(action)).status).toBe(202);
    expect(carriers.requests).toEqual([]);

    // The turn's event comes when its audio has played out: now Twilio is told to dial.
    expect((await report(turn(record, 3, 1))).status).toBe(202);
    expect(carriers.requests).toHaveLength(1);
    const redirect = carriers.requests[0]!;
    expect(redirect.method).toBe("POST");
    expect(redirect.path).toBe(
      `/2010-04-01/Accounts/${testBindings.TWILIO_ACCOUNT_SID}/Calls/${record.providerCallSid}.json`,
    );
    expect(redirect.headers.get("authorization")).toBe(basicAuth);
    expect(redirect.headers.get("content-type")).toBe("application/x-www-form-urlencoded");
    expect([...redirect.form.keys()]).toEqual(["Twiml"]);
    expect(redirect.form.get("Twiml")).toBe(
      `<?xml version="1.0" encoding="UTF-8"?><Response><Dial>${BILLING}</Dial></Response>`,
    );

    const snapshot = await session.snapshot();
    expect(snapshot?.state).toBe("ended");
    expect(snapshot?.record.endReason).toBe(`transferred to ${BILLING}`);
    // The media stream then stops and the node says the caller hung up: the transfer stays the reason.
    const ended: SessionEvent = {
      type: "call.ended",
      callId: record.callId,
      seq: 2,
      reason: "caller-hung-up",
      durationMs: 1,
      turns: 3,
      at: Date.now(),
    };
    expect((await report(ended)).status).toBe(202);
    await session.flushOutbox();
    const [row] = await withDb((db) =>
      db
        .select({ endReason: calls.endReason, status: calls.status })
        .from(calls)
        .where(and(eq(calls.tenantId, record.tenantId), eq(calls.id, record.callId))),
    );
    expect(row).toEqual({ endReason: `transferred to ${BILLING}`, status: "completed" });
    expect(await auditActions(record.tenantId)).toContain("call.transfer");
  });

  it("goes to the first configured number when the model names none", async () => {
    const { record } = await liveCall();
    const armed = await act(record.callId, { type: "transfer_call" });
    expect(await armed.json()).toMatchObject({ status: "scheduled", to: DESK });
  });

  it("refuses a number the agent version does not allow, and never dials it", async () => {
    const { record, session } = await liveCall();
    const refused = await act(record.callId, { type: "transfer_call", to: "+19005550100" });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ type: "https://aybiza.dev/problems/not-allowed" });
    // A node that reports the transfer anyway gets nothing dialled.
    await report({
      type: "action",
      callId: record.callId,
      seq: 0,
      turnIndex: 1,
      action: { type: "transfer_call", to: "+19005550100" },
      at: Date.now(),
    });
    await report(turn(record, 1, 1));
    expect(carriers.requests).toEqual([]);
    expect((await session.snapshot())?.state).not.toBe("ended");
  });

  it("cannot transfer a call that is not on Twilio", async () => {
    const { record } = await liveCall({ provider: "telnyx", providerCallSid: "v3:abc" });
    const refused = await act(record.callId, { type: "transfer_call" });
    expect(refused.status).toBe(422);
    expect(await refused.json()).toMatchObject({ type: "https://aybiza.dev/problems/not-supported" });
  });

  it("keeps the caller with the agent when Twilio refuses the redirect, and says so in the call's log", async () => {
    const { record, session } = await liveCall();
    expect((await act(record.callId, { type: "transfer_call" })).status).toBe(200);
    await report({
      type: "action",
      callId: record.callId,
      seq: 0,
      turnIndex: 2,
      action: { type: "transfer_call", to: DESK },
      at: Date.now(),
    });
    carriers.failTwilio(404, 20404, "The requested resource was not found");
    expect((await report(turn(record, 2, 1))).status).toBe(202);
    const snapshot = await session.snapshot();
    expect(snapshot?.state).not.toBe("ended");
    expect(snapshot?.transfer).toMatchObject({ status: "failed" });
    expect(snapshot?.actions?.at(-1)).toMatchObject({ type: "transfer_call", ok: false });
  });
});

describe("send_sms", () => {
  it("texts the caller from the call's number through Twilio's Messages API, audited", async () => {
    const { tenant, record } = await liveCall();
    const sent = await act(record.callId, { type: "send_sms", body: "Your booking: Tue 3pm. Reply STOP to opt out." });
    expect(sent.status).toBe(200);
    const body = (await sent.json()) as { status: string; to: string; messageSid: string };
    expect(body).toMatchObject({ type: "send_sms", status: "sent", to: CALLER });
    expect(carriers.requests).toHaveLength(1);
    const sms = carriers.requests[0]!;
    expect(sms.method).toBe("POST");
    expect(sms.path).toBe(`/2010-04-01/Accounts/${testBindings.TWILIO_ACCOUNT_SID}/Messages.json`);
    expect(sms.headers.get("authorization")).toBe(basicAuth);
    expect(Object.fromEntries(sms.form)).toEqual({
      To: CALLER,
      From: tenant.number,
      Body: "Your booking: Tue 3pm. Reply STOP to opt out.",
    });
    expect(body.messageSid).toMatch(/^SM/);
    expect(await auditActions(record.tenantId)).toContain("call.sms_sent");
  });

  it("answers honestly when Twilio refuses, and audits the failure", async () => {
    const { record } = await liveCall();
    carriers.failTwilio(400, 21610, "Attempt to send to unsubscribed recipient");
    const failed = await act(record.callId, { type: "send_sms", body: "hello" });
    expect(failed.status).toBe(502);
    expect(await failed.json()).toMatchObject({
      type: "https://aybiza.dev/problems/carrier-error",
      detail: expect.stringContaining("unsubscribed recipient"),
    });
    expect(await auditActions(record.tenantId)).toContain("call.sms_failed");
  });

  it("texts nobody but the caller unless the tool allows the number", async () => {
    const { record } = await liveCall();
    const refused = await act(record.callId, { type: "send_sms", to: "+14155550999", body: "hi" });
    expect(refused.status).toBe(403);
    expect(carriers.requests).toEqual([]);
  });
});

describe("call events and actions", () => {
  it("are accepted only from the node the call was routed to", async () => {
    const { record, session } = await liveCall();
    const stranger = "node-test-2";
    const refused = await report(turn(record, 1, 0), stranger);
    expect(refused.status).toBe(403);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect(await refused.json()).toMatchObject({ type: "https://aybiza.dev/problems/forbidden" });
    const ended: SessionEvent = {
      type: "call.ended",
      callId: record.callId,
      seq: 1,
      reason: "caller-hung-up",
      durationMs: 1,
      turns: 0,
      at: Date.now(),
    };
    expect((await report(ended, stranger)).status).toBe(403);
    expect((await act(record.callId, { type: "send_sms", body: "hi" }, stranger)).status).toBe(403);
    expect(carriers.requests).toEqual([]);
    expect((await session.snapshot())?.state).toBe("routed");
    // The call's own node is heard.
    expect((await report(ended)).status).toBe(202);
    expect((await session.snapshot())?.state).toBe("ended");
  });

  it("refuse a call.started naming a node other than the one signing it", async () => {
    const { record } = await liveCall();
    const startedEvent: SessionEvent = {
      type: "call.started",
      callId: record.callId,
      seq: 0,
      tenantId: record.tenantId,
      agentId: record.agentId ?? "",
      agentVersion: 1,
      region: "us-east-1",
      nodeId: "node-test-2",
      transport: "twilio",
      carrier: {},
      at: Date.now(),
    };
    expect((await report(startedEvent)).status).toBe(403);
  });

  it("actions are refused once the call has ended", async () => {
    const { record, session } = await liveCall();
    await session.end({ status: "completed", reason: "caller-hung-up" });
    expect((await act(record.callId, { type: "send_sms", body: "hi" })).status).toBe(409);
    expect(carriers.requests).toEqual([]);
  });
});

describe("verification during a call", () => {
  it("texts a code to the owner of the call's own account and checks the read-back, never exposing the code", async () => {
    const { record, session } = await liveCall();
    await withDb((db) =>
      db.update(accounts).set({ ownerPhone: "+14155550177" }).where(eq(accounts.id, record.tenantId)),
    );
    const spoken = spellIdForSpeech(record.tenantId as AccountId, { phonetic: true });
    const started = await act(record.callId, { type: "start_verification", accountId: spoken });
    expect(started.status).toBe(200);
    const body = await started.json();
    expect(body).toEqual({
      type: "start_verification",
      status: "code_sent",
      sentTo: "+1••••••0177",
      expiresInMs: 300_000,
      attemptsLeft: 5,
    });
    const sms = carriers.requests.at(-1)!;
    expect(sms.path).toMatch(/\/Messages\.json$/);
    expect(sms.form.get("To")).toBe("+14155550177");
    expect(sms.form.get("From")).toBe(record.toNumber);
    const code = /\b(\d{6})\b/.exec(sms.form.get("Body") ?? "")?.[1] ?? "";
    expect(code).toMatch(/^\d{6}$/);
    expect(JSON.stringify(body)).not.toContain(code);

    const wrong = code === "000000" ? "111111" : "000000";
    const bad = await act(record.callId, { type: "check_verification", code: wrong.split("").join(" ") });
    expect(await bad.json()).toMatchObject({ status: "incorrect", attemptsLeft: 4 });
    const good = await act(record.callId, { type: "check_verification", code });
    expect(await good.json()).toMatchObject({ status: "verified", accountId: record.tenantId });
    expect(JSON.stringify((await session.snapshot())?.actions)).not.toContain(code);
    expect(await auditActions(record.tenantId)).toEqual(
      expect.arrayContaining(["verification.start", "verification.incorrect", "verification.verified"]),
    );
  });

  it("locks after five wrong codes, audited", async () => {
    const { record } = await liveCall();
    await withDb((db) =>
      db.update(accounts).set({ ownerPhone: "+14155550178" }).where(eq(accounts.id, record.tenantId)),
    );
    const spoken = spellIdForSpeech(record.tenantId as AccountId);
    expect((await act(record.callId, { type: "start_verification", accountId: spoken })).status).toBe(200);
    const code = /\b(\d{6})\b/.exec(carriers.requests.at(-1)?.form.get("Body") ?? "")?.[1] ?? "";
    const wrong = code === "999999" ? "888888" : "999999";
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await act(record.callId, { type: "check_verification", code: i === 5 ? code : wrong });
      outcomes.push(((await r.json()) as { status: string }).status);
    }
    expect(outcomes).toEqual(["incorrect", "incorrect", "incorrect", "incorrect", "locked", "locked"]);
    expect(await auditActions(record.tenantId)).toContain("verification.locked");
  });

  it("answers for another account exactly as the tenant API does: not found", async () => {
    const { record } = await liveCall();
    const other = await seedTenantWithNumber();
    const r = await act(record.callId, {
      type: "start_verification",
      accountId: spellIdForSpeech(other.tenantId as AccountId),
    });
    expect(r.status).toBe(404);
    expect(carriers.requests).toEqual([]);
  });

  it("a check with no verification started on the call is refused", async () => {
    const { record } = await liveCall();
    expect((await act(record.callId, { type: "check_verification", code: "123456" })).status).toBe(409);
  });
});

describe("handoff_to_agent", () => {
  it("hands the call to the target's published version and keeps the context packet with the call", async () => {
    const { tenant, record, session } = await liveCall();
    const billingId = newResourceId("agt");
    const billingVersion = newResourceId("agv");
    await withDb(async (db) => {
      await db.insert(agents).values({ tenantId: tenant.tenantId, id: billingId, name: "Billing", latestVersion: 1 });
      const [front] = await db.select().from(agentVersions).where(eq(agentVersions.id, tenant.versionId));
      await db
        .insert(agentVersions)
        .values({ ...front!, id: billingVersion, agentId: billingId, createdAt: new Date() });
      await db.update(agents).set({ publishedVersionId: billingVersion }).where(eq(agents.id, billingId));
    });
    const context = {
      recentHistory: [
        { role: "user" as const, content: [{ type: "text", text: "I was charged twice for order 48213." }] },
        { role: "assistant" as const, content: [{ type: "tool-use", id: "t1", name: "handoff", input: {} }] },
      ],
      entities: { orderNumber: "48213" },
      intent: "refund a double charge",
      reason: "billing owns refunds",
    };
    const r = await act(record.callId, { type: "handoff_to_agent", agentId: billingId, context });
    expect(r.status).toBe(200);
    // The node continues the call with this version, fetched and checked by its prefix hash.
    const { prefix } = await withDb(async (db) => {
      const [row] = await db.select().from(agentVersions).where(eq(agentVersions.id, billingVersion));
      return compileVersion(row!);
    });
    expect(await r.json()).toEqual({
      type: "handoff_to_agent",
      status: "handed-off",
      agentId: billingId,
      agentName: "Billing",
      agentVersion: 1,
      prefixHash: prefix.hash,
    });
    const handoffs = (await session.snapshot())?.handoffs;
    expect(handoffs).toHaveLength(1);
    expect(handoffs?.[0]).toMatchObject({
      agentId: billingId,
      agentVersion: 1,
      context: {
        recentHistory: [
          { role: "user", text: "I was charged twice for order 48213." },
          { role: "assistant", text: "[handoff]" },
        ],
        entities: { orderNumber: "48213" },
        intent: "refund a double charge",
        reason: "billing owns refunds",
      },
    });
    expect(await auditActions(record.tenantId)).toContain("call.handoff");
    // From now on the edge acts for billing's version, which has no handoff tool of its own.
    const again = await act(record.callId, { type: "handoff_to_agent", agentId: billingId, context });
    expect(again.status).toBe(403);
    expect(((await again.json()) as { detail: string }).detail).toContain("no handoff_to_agent tool");
    const other = await liveCall();
    const unknown = await act(other.record.callId, { type: "handoff_to_agent", agentId: "agt_nobody", context });
    expect(unknown.status).toBe(404);
  });
});
