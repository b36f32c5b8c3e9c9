import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { call, createAgent, signUp, type Tenant } from "../helpers.ts";
import { type FakeCarriers, fakeCarriers } from "./fake-carriers.ts";
import { edge, heartbeat, parseStreamTwiml, randomNumber, testBindings, twilioPost } from "./fixtures.ts";

type Problem = { type: string; detail: string; status: number };
type Placed = { id: string; status: string; providerCallSid: string; agentVersionId: string };

const ALL_DAY = { start: "00:00", end: "24:00" };

let carriers: FakeCarriers;
beforeEach(() => {
  carriers = fakeCarriers();
});
afterEach(() => carriers.restore());

async function outboundTenant(): Promise<{ t: Tenant; agentId: string; from: string }> {
  const t = await signUp("Outbound Co");
  const agent = await createAgent(t, { publish: true });
  const from = randomNumber("+1646");
  const num = await call("POST", "/v1/phone-numbers", {
    key: t.key,
    body: { e164: from, provider: "twilio", agentId: agent.id },
  });
  expect(num.status).toBe(201);
  await setHours(t, ALL_DAY);
  return { t, agentId: agent.id, from };
}

async function setHours(t: Tenant, callingHours: { start: string; end: string } | null) {
  const r = await call("PATCH", `/v1/accounts/${t.accountId}`, { key: t.key, body: { callingHours } });
  expect(r.status).toBe(200);
}

async function consent(t: Tenant, phoneNumber: string, type: string, extra: Record<string, unknown> = {}) {
  const r = await call<{ id: string }>("POST", "/v1/consent", {
    key: t.key,
    body: { phoneNumber, type, verificationMethod: "checkbox", ...extra },
  });
  expect(r.status).toBe(201);
  return r.body.id;
}

const place = (t: Tenant, body: Record<string, unknown>) =>
  call<Placed & Problem>("POST", "/v1/calls", { key: t.key, body });

describe("outbound calls", () => {
  beforeAll(async () => {
    expect((await heartbeat("us-east-1", { nodeId: "node-test-1" })).status).toBe(200);
  });

  it("dial through Twilio's REST API with consent, inside calling hours and within limits", async () => {
    const { t, agentId, from } = await outboundTenant();
    const to = "+12125550148";
    await consent(t, to, "service");
    const r = await place(t, { agentId, to, from, purpose: "service" });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ status: "queued", direction: "outbound", from, to, purpose: "service" });

    const [request] = carriers.requests;
    expect(carriers.requests).toHaveLength(1);
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe(`/2010-04-01/Accounts/${testBindings.TWILIO_ACCOUNT_SID}/Calls.json`);
    expect(request?.headers.get("content-type")).toBe("application/x-www-form-urlencoded");
    expect(request?.headers.get("authorization")).toBe(
      `Basic ${btoa(`${testBindings.TWILIO_ACCOUNT_SID}:${testBindings.TWILIO_AUTH_TOKEN}`)}`,
    );
    expect(request?.form.get("To")).toBe(to);
    expect(request?.form.get("From")).toBe(from);
    expect(request?.form.get("Url")).toBe(`https://edge.test/v1/telephony/twilio/voice?callId=${r.body.id}`);
    expect(request?.form.get("StatusCallback")).toBe(
      `https://edge.test/v1/telephony/twilio/status?callId=${r.body.id}`,
    );
    expect(request?.form.getAll("StatusCallbackEvent")).toEqual(["initiated", "ringing", "answered", "completed"]);

    const session = edge.CALL_LEDGER.getByName(r.body.id);
    expect(await session.snapshot()).toMatchObject({
      state: "initiated",
      record: { providerCallSid: r.body.providerCallSid },
    });
    expect(await edge.TENANT_LIMITER.getByName(t.accountId).leases()).toMatchObject([{ callId: r.body.id }]);

    // The callee answers: Twilio fetches the Url, and only now is a node chosen and a token minted.
    const answered = await twilioPost(`/v1/telephony/twilio/voice?callId=${r.body.id}`, {
      CallSid: r.body.providerCallSid,
      AccountSid: testBindings.TWILIO_ACCOUNT_SID ?? "",
      From: from,
      To: to,
      CallStatus: "in-progress",
      Direction: "outbound-api",
    });
    const stream = parseStreamTwiml(answered.body);
    expect(stream?.parameters.callId).toBe(r.body.id);
    expect(await session.snapshot()).toMatchObject({ state: "routed" });

    const done = await twilioPost(`/v1/telephony/twilio/status?callId=${r.body.id}`, {
      CallSid: r.body.providerCallSid,
      AccountSid: testBindings.TWILIO_ACCOUNT_SID ?? "",
      CallStatus: "completed",
    });
    expect(JSON.parse(done.body)).toEqual({ outcome: "ended" });
    expect(await edge.TENANT_LIMITER.getByName(t.accountId).leases()).toEqual([]);
    await session.flushOutbox();
    const listed = await call<{ status: string; direction: string; providerCallSid: string }>(
      "GET",
      `/v1/calls/${r.body.id}`,
      { key: t.key },
    );
    expect(listed.body).toMatchObject({
      status: "completed",
      direction: "outbound",
      providerCallSid: r.body.providerCallSid,
    });
  });

  it("refuses without consent of the call's purpose, naming the reason, and dials nothing", async () => {
    const { t, agentId, from } = await outboundTenant();
    await consent(t, "+12125550149", "service");
    const r = await place(t, { agentId, to: "+12125550149", from, purpose: "marketing" });
    expect(r.status).toBe(403);
    expect(r.headers.get("content-type")).toBe("application/problem+json");
    expect(r.body.type).toMatch(/\/consent-missing$/);
    expect(carriers.requests).toEqual([]);
    expect(await edge.TENANT_LIMITER.getByName(t.accountId).leases()).toEqual([]);
  });

  it("refuses a number that revoked consent", async () => {
    const { t, agentId, from } = await outboundTenant();
    const id = await consent(t, "+12125550150", "marketing");
    expect((await call("POST", `/v1/consent/${id}/revoke`, { key: t.key })).status).toBe(200);
    const r = await place(t, { agentId, to: "+12125550150", from, purpose: "marketing" });
    expect(r.status).toBe(403);
    expect(r.body.type).toMatch(/\/consent-revoked$/);
    expect(carriers.requests).toEqual([]);
  });

  it("refuses an expired consent", async () => {
    const { t, agentId, from } = await outboundTenant();
    await consent(t, "+12125550151", "service", {
      optedInAt: "2025-01-01T00:00:00Z",
      expiresAt: "2025-06-01T00:00:00Z",
    });
    const r = await place(t, { agentId, to: "+12125550151", from, purpose: "service" });
    expect(r.status).toBe(403);
    expect(r.body.type).toMatch(/\/consent-expired$/);
  });

  it("refuses outside the tenant's calling hours in the callee's time zone", async () => {
    const { t, agentId, from } = await outboundTenant();
    const to = "+12125550152";
    await consent(t, to, "service");
    const parts = new Intl.DateTimeFormat("en-US", {
      timeZone: "America/New_York",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    }).formatToParts(Date.now());
    const now =
      Number(parts.find((p) => p.type === "hour")?.value) * 60 + Number(parts.find((p) => p.type === "minute")?.value);
    // A one-minute window half a day away from the callee's current local time.
    const start = (now + 720) % 1380;
    const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
    await setHours(t, { start: hhmm(start), end: hhmm(start + 1) });
    const r = await place(t, { agentId, to, from, purpose: "service" });
    expect(r.status).toBe(403);
    expect(r.body.type).toMatch(/\/outside-calling-hours$/);
    expect(r.body.detail).toContain("America/New_York");
    expect(carriers.requests).toEqual([]);
  });

  it("refuses a tenant at its concurrent-call limit without taking a lease", async () => {
    const { t, agentId, from } = await outboundTenant();
    const to = "+12125550153";
    await consent(t, to, "service");
    const limiter = edge.TENANT_LIMITER.getByName(t.accountId);
    await limiter.admitCall({ callId: "call_held_1", plan: "free" });
    await limiter.admitCall({ callId: "call_held_2", plan: "free" });
    const r = await place(t, { agentId, to, from, purpose: "service" });
    expect(r.status).toBe(403);
    expect(r.body.type).toMatch(/\/over-limit$/);
    expect((await limiter.leases()).map((l) => l.callId).sort()).toEqual(["call_held_1", "call_held_2"]);
    expect(carriers.requests).toEqual([]);
  });

  it("gives the lease back and answers 502 when Twilio refuses the call", async () => {
    const { t, agentId, from } = await outboundTenant();
    const to = "+12125550154";
    await consent(t, to, "service");
    carriers.failTwilio(400, 21211, "The 'To' number is not a valid phone number.");
    const r = await place(t, { agentId, to, from, purpose: "service" });
    expect(r.status).toBe(502);
    expect(r.body.type).toMatch(/\/carrier-error$/);
    expect(r.body.detail).toContain("not a valid phone number");
    expect(await edge.TENANT_LIMITER.getByName(t.accountId).leases()).toEqual([]);
  });

  it("only calls from the account's own numbers", async () => {
    const { t, agentId } = await outboundTenant();
    await consent(t, "+12125550155", "service");
    const r = await place(t, { agentId, to: "+12125550155", from: "+19995550100", purpose: "service" });
    expect(r.status).toBe(422);
    expect(carriers.requests).toEqual([]);
  });
});
