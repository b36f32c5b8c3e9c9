import { exports } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { callIdForCarrierCall } from "../../../workers/src/do/call-ledger/call-id.ts";
import { decodeClientState } from "../../../workers/src/telephony/telnyx.ts";
import { type FakeCarriers, fakeCarriers } from "./fake-carriers.ts";
import { EDGE, edge, heartbeat, seedTenantWithNumber, testBindings } from "./fixtures.ts";

let carriers: FakeCarriers;
beforeEach(() => {
  carriers = fakeCarriers();
});
afterEach(() => carriers.restore());
beforeAll(async () => {
  expect((await heartbeat("us-east-1")).status).toBe(200);
});

async function signingKey(): Promise<CryptoKey> {
  const raw = testBindings.TEST_TELNYX_PRIVATE_KEY ?? "";
  const bytes = Uint8Array.from(atob(raw.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0));
  return crypto.subtle.importKey("pkcs8", bytes, { name: "Ed25519" }, false, ["sign"]);
}

async function telnyx(event: Record<string, unknown>, over: { timestamp?: number; signature?: string } = {}) {
  const body = JSON.stringify({ data: { record_type: "event", ...event } });
  const timestamp = String(over.timestamp ?? Math.floor(Date.now() / 1000));
  const signed = new Uint8Array(
    await crypto.subtle.sign({ name: "Ed25519" }, await signingKey(), new TextEncoder().encode(`${timestamp}|${body}`)),
  );
  return exports.default.fetch(`${EDGE}/v1/telephony/telnyx/voice`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "telnyx-timestamp": timestamp,
      "telnyx-signature-ed25519": over.signature ?? btoa(String.fromCharCode(...signed)),
    },
    body,
  });
}

const initiated = (to: string, callControlId = `v3:${crypto.randomUUID()}`) => ({
  id: crypto.randomUUID(),
  event_type: "call.initiated",
  payload: { call_control_id: callControlId, from: "+12125550190", to, direction: "incoming", state: "parked" },
});

describe("Telnyx call control", () => {
  it("answers a signed call.initiated with a bidirectional μ-law stream carrying the call token", async () => {
    const tenant = await seedTenantWithNumber({ provider: "telnyx" });
    const event = initiated(tenant.number);
    const r = await telnyx(event);
    expect(r.status).toBe(200);
    const [command] = carriers.requests;
    expect(command?.path).toBe(`/v2/calls/${encodeURIComponent(event.payload.call_control_id)}/actions/answer`);
    expect(command?.headers.get("authorization")).toBe(`Bearer ${testBindings.TELNYX_API_KEY}`);
    expect(command?.json).toMatchObject({
      stream_url: "wss://node-test-1.us-east-1.media.test/v1/telephony/telnyx",
      stream_track: "inbound_track",
      stream_bidirectional_mode: "rtp",
      stream_bidirectional_codec: "PCMU",
    });
    const state = decodeClientState(String(command?.json?.client_state));
    const callId = await callIdForCarrierCall("telnyx", event.payload.call_control_id);
    expect(state.callId).toBe(callId);
    expect(state.token).toMatch(/^v1\./);

    const hangup = await telnyx({
      id: crypto.randomUUID(),
      event_type: "call.hangup",
      payload: {
        call_control_id: event.payload.call_control_id,
        hangup_cause: "normal_clearing",
        client_state: command?.json?.client_state,
      },
    });
    expect(await hangup.json()).toEqual({ outcome: "ended" });
    expect(await edge.TENANT_LIMITER.getByName(tenant.tenantId).leases()).toEqual([]);
  });

  it("answers, speaks and hangs up on a number that is not in service", async () => {
    const event = initiated("+15005550001");
    await telnyx(event);
    const state = carriers.requests[0]?.json?.client_state;
    expect(carriers.requests[0]?.path).toMatch(/\/actions\/answer$/);
    await telnyx({
      id: crypto.randomUUID(),
      event_type: "call.answered",
      payload: { call_control_id: event.payload.call_control_id, client_state: state },
    });
    expect(carriers.requests[1]?.path).toMatch(/\/actions\/speak$/);
    expect(String(carriers.requests[1]?.json?.payload)).toMatch(/not in service/);
    await telnyx({
      id: crypto.randomUUID(),
      event_type: "call.speak.ended",
      payload: { call_control_id: event.payload.call_control_id, client_state: state },
    });
    expect(carriers.requests[2]?.path).toMatch(/\/actions\/hangup$/);
  });

  it("refuses a bad signature, a stale timestamp and a replayed event with 403", async () => {
    const tenant = await seedTenantWithNumber({ provider: "telnyx" });
    expect((await telnyx(initiated(tenant.number), { signature: btoa("x".repeat(64)) })).status).toBe(403);
    expect((await telnyx(initiated(tenant.number), { timestamp: Math.floor(Date.now() / 1000) - 600 })).status).toBe(
      403,
    );
    const event = initiated(tenant.number);
    expect((await telnyx(event)).status).toBe(200);
    expect((await telnyx(event)).status).toBe(403);
  });

  it("gives the lease back at once, ends the record and apologises when Telnyx refuses the answer", async () => {
    const tenant = await seedTenantWithNumber({ provider: "telnyx" });
    const event = initiated(tenant.number);
    const callId = await callIdForCarrierCall("telnyx", event.payload.call_control_id);
    carriers.failTelnyx(422);
    const r = await telnyx(event);
    // A 2xx: Telnyx's retry of this event could only be refused as a replay.
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ action: "refuse", reason: "unavailable" });
    expect(await edge.TENANT_LIMITER.getByName(tenant.tenantId).leases()).toEqual([]);
    expect(await edge.CALL_LEDGER.getByName(callId).snapshot()).toMatchObject({
      state: "ended",
      leaseHeld: false,
      record: { status: "failed", endReason: "unavailable: carrier refused to answer" },
    });

    // The stream answer failed; a plain answer follows (its own command_id), then the apology and the hangup.
    const [streamAnswer, refusalAnswer] = carriers.requests;
    expect(streamAnswer?.json?.stream_url).toBeDefined();
    expect(refusalAnswer?.path).toMatch(/\/actions\/answer$/);
    expect(refusalAnswer?.json?.stream_url).toBeUndefined();
    expect(refusalAnswer?.json?.command_id).not.toBe(streamAnswer?.json?.command_id);
    const state = refusalAnswer?.json?.client_state;
    expect(decodeClientState(String(state))).toEqual({ refusal: "unavailable", callId });
    await telnyx({
      id: crypto.randomUUID(),
      event_type: "call.answered",
      payload: { call_control_id: event.payload.call_control_id, client_state: state },
    });
    expect(carriers.requests[2]?.path).toMatch(/\/actions\/speak$/);
    expect(String(carriers.requests[2]?.json?.payload)).toMatch(/something went wrong/);
    await telnyx({
      id: crypto.randomUUID(),
      event_type: "call.speak.ended",
      payload: { call_control_id: event.payload.call_control_id, client_state: state },
    });
    expect(carriers.requests[3]?.path).toMatch(/\/actions\/hangup$/);
  });

  it("hangs up when Telnyx refuses even the plain answer, and still holds no lease", async () => {
    const tenant = await seedTenantWithNumber({ provider: "telnyx" });
    const event = initiated(tenant.number);
    carriers.failTelnyx(503, 2);
    const r = await telnyx(event);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ action: "hangup", reason: "unavailable" });
    expect(carriers.requests.map((request) => request.path.split("/").pop())).toEqual(["answer", "answer", "hangup"]);
    expect(await edge.TENANT_LIMITER.getByName(tenant.tenantId).leases()).toEqual([]);
  });
});
