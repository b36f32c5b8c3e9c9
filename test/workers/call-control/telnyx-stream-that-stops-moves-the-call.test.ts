// Telnyx's equivalent of Twilio's <Redirect>: when the media stream of a live call stops (`streaming.stopped`, or
// `streaming.failed`), the edge starts streaming the call to another node (`actions/streaming_start`) with a fresh
// resume token; when the call is over it hangs the carrier's call up. A replayed event moves nothing.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { importCallTokenVerifier } from "../../../shared/call-token.ts";
import { callIdForCarrierCall } from "../../../workers/src/do/call-ledger/call-id.ts";
import { decodeClientState } from "../../../workers/src/telephony/telnyx.ts";
import { type FakeCarriers, fakeCarriers } from "./fake-carriers.ts";
import { edge, heartbeat, nodeRequest, seedTenantWithNumber, telnyxPost, testBindings } from "./fixtures.ts";

let carriers: FakeCarriers;
beforeEach(async () => {
  carriers = fakeCarriers();
  for (const nodeId of ["node-test-1", "node-test-2"])
    expect((await heartbeat("us-east-1", { nodeId })).status).toBe(200);
});
afterEach(() => carriers.restore());

async function answeredCall() {
  const tenant = await seedTenantWithNumber({ provider: "telnyx" });
  const callControlId = `v3:${crypto.randomUUID()}`;
  const answered = await telnyxPost({
    id: crypto.randomUUID(),
    event_type: "call.initiated",
    payload: { call_control_id: callControlId, from: "+12125550190", to: tenant.number, direction: "incoming" },
  });
  expect(answered.status).toBe(200);
  const answer = carriers.requests.find((r) => r.path.endsWith("/actions/answer"));
  const clientState = String(answer?.json?.client_state);
  const nodeId = new URL(String(answer?.json?.stream_url)).hostname.split(".")[0] ?? "";
  const callId = await callIdForCarrierCall("telnyx", callControlId);
  const started = await nodeRequest(
    "POST",
    `/v1/calls/${callId}/events`,
    {
      type: "call.started",
      callId,
      seq: 0,
      tenantId: tenant.tenantId,
      agentId: tenant.agentId,
      agentVersion: 1,
      region: "us-east-1",
      nodeId,
      transport: "telnyx",
      carrier: {},
      at: Date.now(),
    },
    nodeId,
  );
  expect(started.status).toBe(202);
  return { tenant, callControlId, clientState, nodeId, callId };
}

const stopped = (callControlId: string, clientState: string, id = crypto.randomUUID()) => ({
  id,
  event_type: "streaming.stopped",
  payload: { call_control_id: callControlId, client_state: clientState },
});

describe("a Telnyx call whose stream stops", () => {
  it("streams a live call to another node with a resume token, once per event", async () => {
    const call = await answeredCall();
    const event = stopped(call.callControlId, call.clientState);
    const r = await telnyxPost(event);
    expect(await r.json()).toMatchObject({ action: "resume", callId: call.callId });
    const command = carriers.requests.find((x) => x.path.endsWith("/actions/streaming_start"));
    expect(command?.path).toBe(`/v2/calls/${encodeURIComponent(call.callControlId)}/actions/streaming_start`);
    const other = call.nodeId === "node-test-1" ? "node-test-2" : "node-test-1";
    expect(command?.json).toMatchObject({
      stream_url: `wss://${other}.us-east-1.media.test/v1/telephony/telnyx`,
      stream_bidirectional_mode: "rtp",
      stream_bidirectional_codec: "PCMU",
    });
    const state = decodeClientState(String(command?.json?.client_state));
    expect(state.callId).toBe(call.callId);
    const verifier = await importCallTokenVerifier({
      [testBindings.CALL_TOKEN_KID ?? ""]: testBindings.TEST_CALL_TOKEN_PUBLIC_KEY ?? "",
    });
    const checked = await verifier.verify(state.token ?? "", { expectedCallId: call.callId });
    expect(checked).toMatchObject({ ok: true, claims: { resume: 1, carrierCallId: call.callControlId } });

    // Telnyx redelivers the same event: refused, and the call stays where it went.
    expect((await telnyxPost(event)).status).toBe(403);
    expect(await edge.CALL_LEDGER.getByName(call.callId).snapshot()).toMatchObject({
      resumes: 1,
      record: { nodeId: other },
    });
  });

  it("hangs up the carrier's call when the call is already over", async () => {
    const call = await answeredCall();
    await edge.CALL_LEDGER.getByName(call.callId).end({ status: "completed", reason: "agent-ended" });
    const r = await telnyxPost(stopped(call.callControlId, call.clientState));
    expect(await r.json()).toEqual({ action: "hangup" });
    expect(carriers.requests.at(-1)?.path).toBe(`/v2/calls/${encodeURIComponent(call.callControlId)}/actions/hangup`);
    expect(carriers.requests.some((x) => x.path.endsWith("/actions/streaming_start"))).toBe(false);
  });
});
