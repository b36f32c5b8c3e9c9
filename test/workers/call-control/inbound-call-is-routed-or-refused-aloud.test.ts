import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { importCallTokenVerifier } from "../../../shared/call-token.ts";
import { compilePromptPrefix } from "../../../shared/prompt-prefix.ts";
import { calls } from "../../../workers/src/db/schema.ts";
import { callIdForCarrierCall } from "../../../workers/src/do/call-ledger/call-id.ts";
import { spokenRefusal } from "../../../workers/src/telephony/refusals.ts";
import {
  edge,
  heartbeat,
  parseStreamTwiml,
  seedTenantWithNumber,
  signLikeTwilio,
  spokenText,
  testBindings,
  twilioPost,
  voiceParams,
  withDb,
} from "./fixtures.ts";

const VOICE = "/v1/telephony/twilio/voice";
const STATUS = "/v1/telephony/twilio/status";

async function verifier() {
  return importCallTokenVerifier({
    [testBindings.CALL_TOKEN_KID ?? ""]: testBindings.TEST_CALL_TOKEN_PUBLIC_KEY ?? "",
  });
}

async function callRow(tenantId: string, callId: string) {
  const session = edge.CALL_LEDGER.getByName(callId);
  await session.flushOutbox();
  return withDb(
    async (db) =>
      (
        await db
          .select()
          .from(calls)
          .where(and(eq(calls.tenantId, tenantId), eq(calls.id, callId)))
      )[0],
  );
}

describe("inbound voice webhook", () => {
  beforeAll(async () => {
    // US nodes only: EU tenants in this file find an empty pool.
    expect((await heartbeat("us-east-1", { nodeId: "node-test-1", activeCalls: 3 })).status).toBe(200);
    expect((await heartbeat("us-west-2", { nodeId: "node-test-2", activeCalls: 0 })).status).toBe(200);
  });

  it("answers a signed webhook with a media stream and a short-lived token bound to the call", async () => {
    const tenant = await seedTenantWithNumber();
    const params = voiceParams(tenant.number, { From: "+12125550147" });
    const reply = await twilioPost(VOICE, params);
    expect(reply.status).toBe(200);
    const stream = parseStreamTwiml(reply.body);
    expect(stream?.url).toBe("wss://node-test-1.us-east-1.media.test/v1/telephony/twilio");
    const callId = await callIdForCarrierCall("twilio", params.CallSid ?? "");
    expect(stream?.parameters.callId).toBe(callId);

    const checked = await (await verifier()).verify(stream?.parameters.token ?? "", { expectedCallId: callId });
    if (!checked.ok) throw new Error(checked.message);
    const prefix = await compilePromptPrefix({
      systemPrompt: tenant.systemPrompt,
      tools: [
        { name: "end_call", description: "Ends the call.", inputSchema: { type: "object" }, builtin: "end_call" },
      ],
    });
    expect(checked.claims).toMatchObject({
      callId,
      tenantId: tenant.tenantId,
      agentId: tenant.agentId,
      agentVersion: 1,
      prefixHash: prefix.hash,
      region: "us-east-1",
      // The media node compares this with the stream's callSid: the token admits this carrier call only.
      carrierCallId: params.CallSid,
    });
    expect(checked.claims.exp - checked.claims.iat).toBeLessThanOrEqual(60_000);
    const expired = await (await verifier()).verify(stream?.parameters.token ?? "", {
      now: checked.claims.exp + 10_000,
    });
    expect(expired).toMatchObject({ ok: false, reason: "expired" });

    expect(await edge.TENANT_LIMITER.getByName(tenant.tenantId).leases()).toMatchObject([{ callId, reported: false }]);
    expect(await edge.CALL_LEDGER.getByName(callId).snapshot()).toMatchObject({
      state: "routed",
      record: { region: "us-east-1" },
    });
  });

  it("routes a West Coast caller to the West Coast region", async () => {
    const tenant = await seedTenantWithNumber();
    const reply = await twilioPost(VOICE, voiceParams(tenant.number, { From: "+14155550123" }));
    expect(parseStreamTwiml(reply.body)?.url).toContain("us-west-2");
  });

  it("refuses a wrong signature with 403 and takes nothing", async () => {
    const tenant = await seedTenantWithNumber();
    const params = voiceParams(tenant.number);
    const forged = await signLikeTwilio("not-the-token", "https://edge.test/v1/telephony/twilio/voice", params);
    expect((await twilioPost(VOICE, params, { signature: forged })).status).toBe(403);
    const tampered = { ...params, From: "+19005550100" };
    const signature = await signLikeTwilio(
      testBindings.TWILIO_AUTH_TOKEN ?? "",
      "https://edge.test/v1/telephony/twilio/voice",
      params,
    );
    expect((await twilioPost(VOICE, tampered, { signature })).status).toBe(403);
    expect(await edge.TENANT_LIMITER.getByName(tenant.tenantId).leases()).toEqual([]);
  });

  it("refuses a replayed webhook with 403", async () => {
    const tenant = await seedTenantWithNumber();
    const params = voiceParams(tenant.number);
    expect(parseStreamTwiml((await twilioPost(VOICE, params)).body)).toBeDefined();
    expect((await twilioPost(VOICE, params)).status).toBe(403);
  });

  it("tells the caller an unknown number is not in service", async () => {
    const reply = await twilioPost(VOICE, voiceParams("+15005550000"));
    expect(reply.status).toBe(200);
    expect(spokenText(reply.body)).toBe(spokenRefusal("not-in-service"));
    expect(reply.body).toContain("<Hangup/>");
  });

  it("tells the caller a number whose agent was never published is not in service", async () => {
    const tenant = await seedTenantWithNumber({ published: false });
    expect(spokenText((await twilioPost(VOICE, voiceParams(tenant.number))).body)).toBe(
      spokenRefusal("not-in-service"),
    );
  });

  it("gives a tenant at its limit a spoken busy message and takes no lease", async () => {
    const tenant = await seedTenantWithNumber({ plan: "free" });
    const limiter = edge.TENANT_LIMITER.getByName(tenant.tenantId);
    await limiter.admitCall({ callId: "call_busy_1", plan: "free" });
    await limiter.admitCall({ callId: "call_busy_2", plan: "free" });
    const params = voiceParams(tenant.number);
    const reply = await twilioPost(VOICE, params);
    expect(spokenText(reply.body)).toBe(spokenRefusal("over-limit"));
    expect((await limiter.leases()).map((l) => l.callId).sort()).toEqual(["call_busy_1", "call_busy_2"]);
    const row = await callRow(tenant.tenantId, await callIdForCarrierCall("twilio", params.CallSid ?? ""));
    expect(row).toMatchObject({ status: "failed", endReason: expect.stringMatching(/^over-limit/) });
  });

  it("apologises when no node is left in the tenant's jurisdiction, leaks no lease, and records why", async () => {
    // US nodes are healthy, but an EU tenant's call may not cross the line.
    const tenant = await seedTenantWithNumber({ jurisdiction: "eu", number: `+4930${String(Date.now()).slice(-7)}` });
    const params = voiceParams(tenant.number, { From: "+4930123456" });
    const reply = await twilioPost(VOICE, params);
    expect(reply.status).toBe(200);
    expect(spokenText(reply.body)).toBe(spokenRefusal("no-capacity"));
    expect(await edge.TENANT_LIMITER.getByName(tenant.tenantId).leases()).toEqual([]);
    const callId = await callIdForCarrierCall("twilio", params.CallSid ?? "");
    const row = await callRow(tenant.tenantId, callId);
    expect(row).toMatchObject({
      status: "failed",
      endReason: "no-capacity: tried eu-central-1, eu-west-1",
      region: null,
    });
  });

  it("finishes the call record and releases the lease on the final status callback, keeping the CallSid", async () => {
    const tenant = await seedTenantWithNumber();
    const params = voiceParams(tenant.number);
    await twilioPost(VOICE, params);
    const callId = await callIdForCarrierCall("twilio", params.CallSid ?? "");
    const status = await twilioPost(STATUS, {
      CallSid: params.CallSid ?? "",
      AccountSid: params.AccountSid ?? "",
      CallStatus: "completed",
      CallDuration: "42",
      From: params.From ?? "",
      To: params.To ?? "",
    });
    expect(JSON.parse(status.body)).toEqual({ outcome: "ended" });
    expect(await edge.TENANT_LIMITER.getByName(tenant.tenantId).leases()).toEqual([]);
    const row = await callRow(tenant.tenantId, callId);
    expect(row).toMatchObject({ status: "completed", providerCallSid: params.CallSid, endReason: "carrier-completed" });
    expect(row?.endedAt).toBeInstanceOf(Date);
  });

  it("maps each final carrier status onto the call record", async () => {
    for (const [carrier, stored] of [
      ["busy", "busy"],
      ["no-answer", "no_answer"],
      ["failed", "failed"],
      ["canceled", "canceled"],
    ] as const) {
      const tenant = await seedTenantWithNumber();
      const params = voiceParams(tenant.number);
      await twilioPost(VOICE, params);
      await twilioPost(STATUS, {
        CallSid: params.CallSid ?? "",
        AccountSid: params.AccountSid ?? "",
        CallStatus: carrier,
      });
      const row = await callRow(tenant.tenantId, await callIdForCarrierCall("twilio", params.CallSid ?? ""));
      expect(row?.status).toBe(stored);
      expect(await edge.TENANT_LIMITER.getByName(tenant.tenantId).leases()).toEqual([]);
    }
  });

  it("refuses an unsigned status callback", async () => {
    const reply = await twilioPost(
      STATUS,
      { CallSid: `CA${"f".repeat(32)}`, AccountSid: `AC${"1".repeat(32)}`, CallStatus: "completed" },
      { signature: "bogus" },
    );
    expect(reply.status).toBe(403);
  });

  it("answers with a spoken apology, not an error, when the edge itself fails, and keeps no lease", async () => {
    // A version whose stored settings no longer validate makes compiling its prefix throw mid-decision.
    const tenant = await seedTenantWithNumber({ settings: { maxTokens: 1 } });
    const reply = await twilioPost(VOICE, voiceParams(tenant.number));
    expect(reply.status).toBe(200);
    expect(spokenText(reply.body)).toBe(spokenRefusal("unavailable"));
    expect(await edge.TENANT_LIMITER.getByName(tenant.tenantId).leases()).toEqual([]);
  });
});
