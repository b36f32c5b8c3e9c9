// Twilio's signatures carry no timestamp, so a captured webhook stays valid forever. The limiter's replay keys
// last REPLAY_WINDOW_MS; these tests let that window pass (by sweeping the limiter at a time past it) and replay
// the webhook: a voice webhook for a call that already happened, and an old YES for a consent created since.
import { runInDurableObject } from "cloudflare:test";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { callIdForCarrierCall } from "../../../workers/src/do/call-ledger/call-id.ts";
import { REPLAY_WINDOW_MS, type TenantLimiter } from "../../../workers/src/do/tenant-limiter/tenant-limiter.ts";
import { call, createAgent, signUp, type Tenant } from "../helpers.ts";
import { type FakeCarriers, fakeCarriers } from "./fake-carriers.ts";
import {
  edge,
  heartbeat,
  inboundSms,
  parseStreamTwiml,
  randomNumber,
  seedTenantWithNumber,
  tenantWithNumber,
  testBindings,
  twilioPost,
  voiceParams,
} from "./fixtures.ts";

const VOICE = "/v1/telephony/twilio/voice";
const STATUS = "/v1/telephony/twilio/status";
const SMS = "/v1/telephony/twilio/sms";

/** Runs the limiter's sweep as its alarm would at a moment past the replay window. */
async function letTheReplayWindowPass(tenantId: string): Promise<void> {
  const limiter = edge.TENANT_LIMITER.getByName(tenantId);
  await runInDurableObject(limiter, (instance: TenantLimiter) => instance.sweep(Date.now() + REPLAY_WINDOW_MS + 1));
}

describe("voice webhook replayed after the replay window", () => {
  beforeAll(async () => {
    expect((await heartbeat("us-east-1")).status).toBe(200);
  });

  it("is refused with 403 for a call that already ended, taking no lease and minting no token", async () => {
    const tenant = await seedTenantWithNumber();
    const params = voiceParams(tenant.number);
    expect(parseStreamTwiml((await twilioPost(VOICE, params)).body)).toBeDefined();
    await twilioPost(STATUS, {
      CallSid: params.CallSid ?? "",
      AccountSid: params.AccountSid ?? "",
      CallStatus: "completed",
    });
    await letTheReplayWindowPass(tenant.tenantId);

    const replay = await twilioPost(VOICE, params);
    expect(replay.status).toBe(403);
    expect(replay.response.headers.get("content-type")).toBe("application/problem+json");
    expect(replay.body).not.toContain("token");
    expect(await edge.TENANT_LIMITER.getByName(tenant.tenantId).leases()).toEqual([]);
    const callId = await callIdForCarrierCall("twilio", params.CallSid ?? "");
    expect(await edge.CALL_LEDGER.getByName(callId).snapshot()).toMatchObject({
      state: "ended",
      record: { status: "completed", endReason: "carrier-completed" },
    });
  });

  it("is refused for a call that is still up, whose lease stays the only one", async () => {
    const tenant = await seedTenantWithNumber();
    const params = voiceParams(tenant.number);
    expect(parseStreamTwiml((await twilioPost(VOICE, params)).body)).toBeDefined();
    const callId = await callIdForCarrierCall("twilio", params.CallSid ?? "");
    // Past the window the call is still running: its lease was confirmed by the media node.
    expect(await edge.TENANT_LIMITER.getByName(tenant.tenantId).confirmLease(callId, "free")).toBe(true);
    await letTheReplayWindowPass(tenant.tenantId);

    expect((await twilioPost(VOICE, params)).status).toBe(403);
    expect(await edge.TENANT_LIMITER.getByName(tenant.tenantId).leases()).toMatchObject([{ callId, reported: true }]);
  });
});

describe("outbound answer webhook replayed after the replay window", () => {
  let carriers: FakeCarriers;
  beforeEach(() => {
    carriers = fakeCarriers();
  });
  afterEach(() => carriers.restore());

  it("is refused with 403 and mints no second token", async () => {
    const t = await signUp("Outbound Replay Co");
    const agent = await createAgent(t, { publish: true });
    const from = randomNumber("+1646");
    await call("POST", "/v1/phone-numbers", {
      key: t.key,
      body: { e164: from, provider: "twilio", agentId: agent.id },
    });
    await call("PATCH", `/v1/accounts/${t.accountId}`, {
      key: t.key,
      body: { callingHours: { start: "00:00", end: "24:00" } },
    });
    const to = "+12125550149";
    await call("POST", "/v1/consent", {
      key: t.key,
      body: { phoneNumber: to, type: "service", verificationMethod: "checkbox" },
    });
    const placed = await call<{ id: string; providerCallSid: string }>("POST", "/v1/calls", {
      key: t.key,
      body: { agentId: agent.id, to, from, purpose: "service" },
    });
    expect(placed.status).toBe(201);
    const path = `${VOICE}?callId=${placed.body.id}`;
    const answered = {
      CallSid: placed.body.providerCallSid,
      AccountSid: testBindings.TWILIO_ACCOUNT_SID ?? "",
      From: from,
      To: to,
      CallStatus: "in-progress",
      Direction: "outbound-api",
    };
    expect(parseStreamTwiml((await twilioPost(path, answered)).body)).toBeDefined();
    await letTheReplayWindowPass(t.accountId);

    const replay = await twilioPost(path, answered);
    expect(replay.status).toBe(403);
    expect(parseStreamTwiml(replay.body)).toBeUndefined();
  });
});

describe("SMS YES replayed after the replay window", () => {
  let carriers: FakeCarriers;
  beforeEach(() => {
    carriers = fakeCarriers();
  });
  afterEach(() => carriers.restore());

  const pendingConsent = async (t: Tenant, phoneNumber: string, type: string) =>
    (
      await call<{ id: string; status: string }>("POST", "/v1/consent", {
        key: t.key,
        body: { phoneNumber, type, verificationMethod: "sms" },
      })
    ).body;

  it("does not confirm a consent created after the YES was sent", async () => {
    const { t, number } = await tenantWithNumber("Replay Co");
    const person = "+13055550170";
    const first = await pendingConsent(t, person, "service");
    const yes = inboundSms(person, number, "YES");
    expect((await twilioPost(SMS, yes)).status).toBe(200);
    expect((await call<{ status: string }>("GET", `/v1/consent/${first.id}`, { key: t.key })).body.status).toBe(
      "active",
    );

    await letTheReplayWindowPass(t.accountId);
    const later = await pendingConsent(t, person, "marketing");
    expect(later.status).toBe("pending");
    const replay = await twilioPost(SMS, yes);
    expect(replay.status).toBe(403);
    expect(replay.body).not.toContain("<Message>");
    expect((await call<{ status: string }>("GET", `/v1/consent/${later.id}`, { key: t.key })).body.status).toBe(
      "pending",
    );

    // The person's own, new YES still confirms it.
    const fresh = { ...yes, MessageSid: `SM${crypto.randomUUID().replaceAll("-", "")}` };
    expect((await twilioPost(SMS, fresh)).status).toBe(200);
    expect((await call<{ status: string }>("GET", `/v1/consent/${later.id}`, { key: t.key })).body.status).toBe(
      "active",
    );
  });
});
