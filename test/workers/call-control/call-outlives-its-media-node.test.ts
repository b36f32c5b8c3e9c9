// A call outlives its media node. Twilio runs the <Redirect> after <Connect><Stream> when the stream ends: a live call
// goes to another healthy node with a fresh single-use resume token, and that node (only it, only once) gets the
// call's checkpoint; a finished call just hangs up. A node that vanishes without Twilio redirecting is noticed by the
// heartbeat timeout, and the call ends as media_node_lost with its lease given back.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CallCheckpointSchema } from "../../../shared/call-checkpoint.ts";
import { type CallTokenClaims, importCallTokenVerifier } from "../../../shared/call-token.ts";
import { callIdForCarrierCall } from "../../../workers/src/do/call-ledger/call-id.ts";
import type { CallLedger } from "../../../workers/src/do/call-ledger/call-ledger.ts";
import type { MediaRegion } from "../../../workers/src/do/media-region/media-region.ts";
import { SqlKv } from "../../../workers/src/do/sql-kv.ts";
import { type FakeCarriers, fakeCarriers } from "./fake-carriers.ts";
import {
  agentHeard,
  callerFinal,
  edge,
  heartbeat,
  nodeRequest,
  parseStreamTwiml,
  seedTenantWithNumber,
  spokenText,
  testBindings,
  turn,
  twilioPost,
  voiceParams,
} from "./fixtures.ts";

const VOICE = "/v1/telephony/twilio/voice";
const NODES = ["node-test-1", "node-test-2"] as const;

async function claimsOf(token: string, callId: string): Promise<CallTokenClaims> {
  const verifier = await importCallTokenVerifier({
    [testBindings.CALL_TOKEN_KID ?? ""]: testBindings.TEST_CALL_TOKEN_PUBLIC_KEY ?? "",
  });
  const checked = await verifier.verify(token, { expectedCallId: callId });
  if (!checked.ok) throw new Error(checked.message);
  return checked.claims;
}

const redirectPath = (xml: string) => {
  const url = /<Redirect method="POST">([^<]+)<\/Redirect>/.exec(xml)?.[1]?.replaceAll("&amp;", "&");
  if (!url) throw new Error(`no <Redirect> in ${xml}`);
  return new URL(url).pathname + new URL(url).search;
};

/** Both nodes heartbeat and nobody is suspect (storage is shared by the tests of this file). */
async function fleetUp() {
  await runInDurableObject(edge.MEDIA_REGION.getByName("us-east-1"), (_i: MediaRegion, state) =>
    state.storage.sql.exec("DELETE FROM suspects"),
  );
  for (const nodeId of NODES) expect((await heartbeat("us-east-1", { nodeId })).status).toBe(200);
}

/** An inbound call answered by a node, which reports it started (and a greeting turn). */
async function liveCall() {
  const tenant = await seedTenantWithNumber();
  const params = voiceParams(tenant.number);
  const answer = await twilioPost(VOICE, params);
  const stream = parseStreamTwiml(answer.body);
  if (!stream) throw new Error(`no stream in ${answer.body}`);
  const callId = await callIdForCarrierCall("twilio", params.CallSid ?? "");
  const first = await claimsOf(stream.parameters.token ?? "", callId);
  const nodeId = new URL(stream.url).hostname.split(".")[0] ?? "";
  const events = (body: unknown, node = nodeId) => nodeRequest("POST", `/v1/calls/${callId}/events`, body, node);
  const startedRes = await events({
    type: "call.started",
    callId,
    seq: 0,
    tenantId: tenant.tenantId,
    agentId: tenant.agentId,
    agentVersion: 1,
    region: first.region,
    nodeId,
    transport: "twilio",
    carrier: {},
    at: Date.now(),
  });
  expect(startedRes.status).toBe(202);
  const ledger = edge.CALL_LEDGER.getByName(callId);
  const record = (await ledger.snapshot())?.record;
  if (!record) throw new Error("no ledger");
  return { tenant, params, answer, stream, callId, first, nodeId, events, ledger, record };
}

describe("a call whose media stream ends", () => {
  let carriers: FakeCarriers;
  beforeEach(async () => {
    carriers = fakeCarriers();
    await fleetUp();
  });
  afterEach(() => carriers.restore());

  it("places a <Redirect> to the edge after <Connect><Stream>", async () => {
    const { answer, callId } = await liveCall();
    expect(answer.body).toMatch(
      /<\/Connect><Redirect method="POST">https:\/\/edge\.test\/v1\/telephony\/twilio\/redirect/,
    );
    expect(redirectPath(answer.body)).toBe(`/v1/telephony/twilio/redirect?callId=${callId}&stream=0`);
  });

  it("moves a live call to another node with a fresh resume token, which claims the checkpoint once", async () => {
    const call = await liveCall();
    const { callId, record, events } = call;
    expect(
      (await events(turn(record, 0, 1, { userText: "", assistantText: "Hello!", generatedText: "Hello!" }))).status,
    ).toBe(202);
    expect((await events(callerFinal(record, 1, 2, "My order number is 4471."))).status).toBe(202);
    expect((await events(agentHeard(record, 1, 3, "Thanks, one moment"))).status).toBe(202);

    // The node is killed: Twilio's stream drops and it runs the <Redirect>.
    const redirect = await twilioPost(redirectPath(call.answer.body), { ...call.params, CallStatus: "in-progress" });
    expect(redirect.status).toBe(200);
    const next = parseStreamTwiml(redirect.body);
    if (!next) throw new Error(`no stream in ${redirect.body}`);
    const other = NODES.find((n) => n !== call.nodeId) ?? "";
    expect(next.url).toBe(`wss://${other}.us-east-1.media.test/v1/telephony/twilio`);
    expect(next.parameters.callId).toBe(callId);
    expect(redirectPath(redirect.body)).toBe(`/v1/telephony/twilio/redirect?callId=${callId}&stream=1`);
    const claims = await claimsOf(next.parameters.token ?? "", callId);
    expect(claims).toMatchObject({
      callId,
      tenantId: call.tenant.tenantId,
      agentId: call.tenant.agentId,
      agentVersion: 1,
      prefixHash: call.first.prefixHash,
      carrierCallId: call.params.CallSid,
      resume: 1,
    });
    expect(claims.nonce).not.toBe(call.first.nonce);
    expect(call.first.resume).toBeUndefined();

    // The lost node may no longer write to the call; the new one may, numbering its events from 0 again.
    expect((await events(agentHeard(record, 1, 4, "Thanks, one moment please"), call.nodeId)).status).toBe(403);

    // Only the node the call moved to gets the checkpoint, and only once.
    const claim = (node: string, nonce = claims.nonce) =>
      nodeRequest("POST", `/v1/calls/${callId}/resume`, { nonce, resume: 1 }, node);
    expect((await claim(call.nodeId)).status).toBe(403);
    expect((await claim(other, "x".repeat(22))).status).toBe(409);
    const claimed = await claim(other);
    expect(claimed.status).toBe(200);
    const checkpoint = CallCheckpointSchema.parse(await claimed.json());
    expect(checkpoint).toEqual({
      callId,
      tenantId: call.tenant.tenantId,
      agentId: call.tenant.agentId,
      agentVersion: 1,
      prefixHash: call.first.prefixHash,
      resume: 1,
      history: [{ index: 0, role: "assistant", text: "Hello!", interrupted: false }],
      entities: {},
      inProgress: { index: 1, callerText: "My order number is 4471.", agentHeard: "Thanks, one moment" },
      nextTurnIndex: 2,
    });
    // Replaying the resume token (a second stream with it, on any node) gets nothing.
    const replay = await claim(other);
    expect(replay.status).toBe(409);
    expect(await replay.text()).toMatch(/already claimed/);

    expect((await events({ ...turn(record, 2, 0), userText: "Is it shipped?" }, other)).status).toBe(202);
    // A resumed node that numbered its turns from 0 again would overwrite what the caller heard: refused.
    const rewrite = await events({ ...turn(record, 1, 1), userText: "something else" }, other);
    expect(rewrite.status).toBe(409);
    expect(await rewrite.text()).toMatch(/before the resume/);
    const snapshot = await call.ledger.snapshot();
    expect(snapshot).toMatchObject({ state: "in-progress", record: { nodeId: other }, resumes: 1 });
    expect(snapshot?.actions?.at(-1)).toMatchObject({ type: "resume", ok: true });

    // The lost node is passed over for new calls for a while, although it still heartbeats.
    const region = edge.MEDIA_REGION.getByName("us-east-1");
    expect(await region.node(call.nodeId)).toMatchObject({ suspect: true });
    const fresh = await twilioPost(VOICE, voiceParams((await seedTenantWithNumber()).number));
    expect(parseStreamTwiml(fresh.body)?.url).toContain(`${other}.`);
  });

  it("refuses a replayed redirect without touching the live call, and follows the next stream's genuine one", async () => {
    const call = await liveCall();
    const other = NODES.find((n) => n !== call.nodeId) ?? "";
    const lost = () => twilioPost(redirectPath(call.answer.body), { ...call.params, CallStatus: "in-progress" });
    const moved = await lost();
    const second = parseStreamTwiml(moved.body);
    expect(second?.url).toContain(`${other}.`);
    // The call goes on at the other node, which claims its checkpoint and reports.
    const claims = await claimsOf(second?.parameters.token ?? "", call.callId);
    const claim = await nodeRequest(
      "POST",
      `/v1/calls/${call.callId}/resume`,
      { nonce: claims.nonce, resume: 1 },
      other,
    );
    expect(claim.status).toBe(200);
    // The node it was lost on heartbeats again and is trusted again (nothing to do with the replay below).
    await fleetUp();

    // Someone replays Twilio's signed request, now and later: refused, and nothing about the call changes.
    for (let i = 0; i < 4; i++) {
      const replay = await lost();
      expect(replay.status).toBe(200);
      expect(parseStreamTwiml(replay.body)).toBeUndefined();
    }
    const snapshot = await call.ledger.snapshot();
    expect(snapshot).toMatchObject({ state: "connected", resumes: 1, record: { nodeId: other } });
    expect(snapshot?.pendingResume).toMatchObject({ resume: 1, nodeId: other, nonce: claims.nonce });
    expect(snapshot?.actions?.filter((a) => a.type === "resume" && !a.ok)).toHaveLength(4);
    expect(await edge.MEDIA_REGION.getByName("us-east-1").node(other)).toMatchObject({ suspect: false });
    expect((await call.events(turn(call.record, 1, 0), other)).status).toBe(202);

    // The second node dies in turn: the redirect Twilio got with the second stream moves the call once more.
    const again = await twilioPost(redirectPath(moved.body), { ...call.params, CallStatus: "in-progress" });
    const third = parseStreamTwiml(again.body);
    expect(third?.url).toContain(`${call.nodeId}.`);
    expect(redirectPath(again.body)).toBe(`/v1/telephony/twilio/redirect?callId=${call.callId}&stream=2`);
    expect(await call.ledger.snapshot()).toMatchObject({ resumes: 2, record: { nodeId: call.nodeId } });
  });

  it("moves the call once when two copies of one redirect race", async () => {
    const call = await liveCall();
    const post = () => twilioPost(redirectPath(call.answer.body), { ...call.params, CallStatus: "in-progress" });
    const answers = await Promise.all([post(), post(), post()]);
    expect(answers.filter((a) => parseStreamTwiml(a.body) !== undefined)).toHaveLength(1);
    expect(await call.ledger.snapshot()).toMatchObject({ state: "connected", resumes: 1 });
  });

  it("keeps the moved call when a copy of the redirect arrives while the first still waits out its grace", async () => {
    const call = await liveCall();
    const post = () => twilioPost(redirectPath(call.answer.body), { ...call.params, CallStatus: "in-progress" });
    const first = post();
    // The second copy sees the call on its first node, then waits out the grace while the first copy moves it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = post();
    const answers = await Promise.all([first, second]);
    expect(answers.filter((a) => parseStreamTwiml(a.body) !== undefined)).toHaveLength(1);
    const moved = await call.ledger.snapshot();
    expect(moved).toMatchObject({ state: "connected", resumes: 1 });
    expect(moved?.record.nodeId).not.toBe(call.nodeId);
  });

  it("hangs up quietly when the call ended normally", async () => {
    const call = await liveCall();
    expect(
      (
        await call.events({
          type: "call.ended",
          callId: call.callId,
          seq: 1,
          reason: "agent-ended",
          durationMs: 5_000,
          turns: 1,
          at: Date.now(),
        })
      ).status,
    ).toBe(202);
    const redirect = await twilioPost(redirectPath(call.answer.body), { ...call.params, CallStatus: "in-progress" });
    expect(redirect.body).toMatch(/<Response><Hangup\/><\/Response>/);
    expect(parseStreamTwiml(redirect.body)).toBeUndefined();
    expect((await call.ledger.snapshot())?.resumes).toBeUndefined();
  });

  it("refuses an unsigned redirect", async () => {
    const call = await liveCall();
    const forged = await twilioPost(redirectPath(call.answer.body), call.params, { signature: "AAAA" });
    expect(forged.status).toBe(403);
    expect((await call.ledger.snapshot())?.record.nodeId).toBe(call.nodeId);
  });

  it("apologises and ends the call as media_node_lost when no other node is left", async () => {
    const call = await liveCall();
    const other = NODES.find((n) => n !== call.nodeId) ?? "";
    await edge.MEDIA_REGION.getByName("us-east-1").markLost(other);
    const redirect = await twilioPost(redirectPath(call.answer.body), { ...call.params, CallStatus: "in-progress" });
    expect(spokenText(redirect.body)).toMatch(/lost the connection/);
    expect(redirect.body).toContain("<Hangup/>");
    expect(await call.ledger.snapshot()).toMatchObject({
      state: "ended",
      leaseHeld: false,
      record: { status: "failed", endReason: "media_node_lost" },
    });
    expect(await edge.TENANT_LIMITER.getByName(call.tenant.tenantId).leases()).toEqual([]);
  });
});

describe("the heartbeat timeout", () => {
  let carriers: FakeCarriers;
  beforeEach(async () => {
    carriers = fakeCarriers();
    await fleetUp();
  });
  afterEach(() => carriers.restore());

  /**
   * Makes the call's node look silent for a minute: nothing for the call, no heartbeat. First lets the outbox's own
   * alarms (they run by themselves in this runtime) finish, so the alarm the test runs is the node watch.
   */
  async function silence(ledger: DurableObjectStub<CallLedger>, nodeId: string, heartbeats = true) {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const alarm = await runInDurableObject(ledger, (_i: CallLedger, state) => state.storage.getAlarm());
      if ((await ledger.snapshot())?.pending === 0 && alarm !== null && alarm > Date.now() + 1_000) break;
      if (Date.now() > deadline) throw new Error("the ledger's outbox did not settle");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await runInDurableObject(ledger, (_i: CallLedger, state) =>
      SqlKv.open(state.storage.sql).kv.put("heardAt", Date.now() - 60_000),
    );
    if (heartbeats) {
      await runInDurableObject(edge.MEDIA_REGION.getByName("us-east-1"), (_i: MediaRegion, state) =>
        state.storage.sql.exec("UPDATE nodes SET last_seen_at = ? WHERE node_id = ?", Date.now() - 60_000, nodeId),
      );
    }
  }

  it("ends a call whose node vanished as media_node_lost, gives the lease back and hangs up the carrier", async () => {
    const call = await liveCall();
    expect(await edge.TENANT_LIMITER.getByName(call.tenant.tenantId).leases()).toHaveLength(1);
    await silence(call.ledger, call.nodeId);
    await runDurableObjectAlarm(call.ledger);

    expect(await call.ledger.snapshot()).toMatchObject({
      state: "ended",
      leaseHeld: false,
      record: { status: "failed", endReason: "media_node_lost" },
    });
    expect(await edge.TENANT_LIMITER.getByName(call.tenant.tenantId).leases()).toEqual([]);
    const hangup = carriers.requests.find((r) => r.path.endsWith(`/Calls/${call.params.CallSid}.json`));
    expect(hangup?.form.get("Twiml")).toMatch(/<Say[^>]*>We&apos;re sorry, we lost the connection.*<Hangup\/>/);
    expect(await edge.MEDIA_REGION.getByName("us-east-1").node(call.nodeId)).toMatchObject({ suspect: true });
  });

  it("leaves a quiet call alone while its node heartbeats", async () => {
    const call = await liveCall();
    await silence(call.ledger, call.nodeId, false);
    await runDurableObjectAlarm(call.ledger);
    expect(await call.ledger.snapshot()).toMatchObject({ state: "connected", record: { status: "in_progress" } });
    // And it keeps watching.
    expect(await runInDurableObject(call.ledger, (_i: CallLedger, state) => state.storage.getAlarm())).not.toBeNull();
  });
});
