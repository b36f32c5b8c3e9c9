// Admission happens before any provider is contacted: a missing, forged, expired, replayed or mismatched
// token closes the socket with a clear code and reason and costs no STT, LLM or TTS session.
import { afterEach, expect, test } from "vitest";
import { generateCallTokenKeyPair, importCallTokenSigner } from "../../../shared/call-token.ts";
import { type Harness, startHarness } from "./support/harness.ts";
import { TwilioTestClient } from "./support/twilio-client.ts";

let h: Harness | undefined;
afterEach(async () => h?.close());

async function refusal(harness: Harness, token: string | undefined): Promise<[number | undefined, string]> {
  const caller = await TwilioTestClient.connect(harness.wsUrl());
  caller.start(token);
  await caller.closed();
  return [caller.closeCode, caller.closeReason];
}

function expectNothingSpent(harness: Harness): void {
  expect(harness.stt.sessions).toHaveLength(0);
  expect(harness.tts.sessions).toHaveLength(0);
  expect(harness.tts.synthesized).toHaveLength(0);
  expect(harness.llm.requests).toHaveLength(0);
  expect(harness.sink.events).toHaveLength(0);
}

test("missing, forged, tampered and malformed tokens are refused with 4401", async () => {
  h = await startHarness();
  expect(await refusal(h, undefined)).toEqual([4401, "call token missing"]);
  expect(await refusal(h, "not-a-token")).toEqual([4401, "call token malformed"]);

  const otherKeys = await generateCallTokenKeyPair();
  const forger = await importCallTokenSigner(otherKeys.privateKey, otherKeys.kid);
  const forged = await forger.sign({
    callId: "call_forged",
    tenantId: h.agent.tenantId,
    agentId: h.agent.agentId,
    agentVersion: 1,
    prefixHash: "0".repeat(64),
    region: "test-1",
  });
  expect(await refusal(h, forged)).toEqual([4401, "call token signed by an unknown key"]);

  // A genuine token whose claims were edited (another tenant) no longer verifies.
  const genuine = await h.token();
  const [v, kid, payload, sig] = genuine.split(".");
  const claims = JSON.parse(Buffer.from(payload!, "base64url").toString());
  const edited = Buffer.from(JSON.stringify({ ...claims, tenantId: "ten_victim" })).toString("base64url");
  expect(await refusal(h, `${v}.${kid}.${edited}.${sig}`)).toEqual([4401, "call token signature invalid"]);
  expectNothingSpent(h);
  expect(h.node.metrics.admissionRefused.get({ reason: "missing" })).toBe(1);
});

test("an expired token and a replayed token are refused", async () => {
  h = await startHarness();
  const expired = await h.token({}, { ttlMs: 1_000, now: Date.now() - 60_000 });
  expect(await refusal(h, expired)).toEqual([4401, "call token expired"]);

  const token = await h.token();
  const first = await TwilioTestClient.connect(h.wsUrl());
  first.start(token);
  await new Promise((r) => setTimeout(r, 200));
  expect(first.closeCode).toBeUndefined();
  const sessionsAfterFirst = h.stt.sessions.length;
  expect(await refusal(h, token)).toEqual([4401, "call token already used"]);
  expect(h.stt.sessions).toHaveLength(sessionsAfterFirst);
  await first.hangUp();
});

test("a token for another region, another agent version or another prompt is refused", async () => {
  h = await startHarness();
  expect(await refusal(h, await h.token({ region: "eu-west-1" }))).toEqual([
    4403,
    "call token is for region eu-west-1, this node serves test-1",
  ]);
  expect(await refusal(h, await h.token({ agentVersion: 7 }))).toEqual([4404, "agent version not found"]);
  // The directory's agent changed since the edge signed the token: its prompt prefix hash no longer matches.
  expect(await refusal(h, await h.token({ prefixHash: "a".repeat(64) }))).toEqual([
    4409,
    "agent prompt does not match the call token (prefix hash)",
  ]);
  expectNothingSpent(h);
});

/** A Twilio `start` naming the given call (the client's own `start` always names the same CallSid). */
async function startOnCall(harness: Harness, token: string, callSid: string | undefined): Promise<TwilioTestClient> {
  const caller = await TwilioTestClient.connect(harness.wsUrl());
  caller.send({ event: "connected", protocol: "Call", version: "1.0.0" });
  caller.send({
    event: "start",
    sequenceNumber: "1",
    start: {
      accountSid: "AC00000000000000000000000000000000",
      streamSid: caller.streamSid,
      ...(callSid === undefined ? {} : { callSid }),
      tracks: ["inbound"],
      customParameters: { token },
      mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
    },
    streamSid: caller.streamSid,
  });
  return caller;
}

test("a token minted for one carrier call is refused on another, and stays usable by its own call", async () => {
  h = await startHarness();
  const victimCall = `CA${"1".repeat(32)}`;
  const token = await h.token({ carrierCallId: victimCall });

  // Lifted and put in another call's stream (another CallSid), or in a stream that names no call at all.
  for (const callSid of [`CA${"2".repeat(32)}`, undefined]) {
    const thief = await startOnCall(h, token, callSid);
    await Promise.race([thief.closed(), new Promise((r) => setTimeout(r, 2_000))]);
    if (thief.closeCode === undefined) await thief.hangUp();
    expect([thief.closeCode, thief.closeReason]).toEqual([4401, "call token issued for another call"]);
  }
  expectNothingSpent(h);
  expect(h.node.metrics.admissionRefused.get({ reason: "call-mismatch" })).toBe(2);

  // The refusals spent nothing: the call the token was minted for is still admitted with it.
  const own = await startOnCall(h, token, victimCall);
  await new Promise((r) => setTimeout(r, 200));
  expect(own.closeCode).toBeUndefined();
  expect(h.stt.sessions.length).toBeGreaterThan(0);
  await own.hangUp();
});

test("a socket that never sends start is closed after the start timeout", async () => {
  h = await startHarness({ startTimeoutMs: 300 });
  const caller = await TwilioTestClient.connect(h.wsUrl());
  caller.send({ event: "connected", protocol: "Call", version: "1.0.0" });
  await caller.closed();
  expect([caller.closeCode, caller.closeReason]).toEqual([4408, "no start message within 300 ms"]);
  expectNothingSpent(h);
});
