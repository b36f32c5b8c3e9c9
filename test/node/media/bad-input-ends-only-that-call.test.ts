// Bad input from one peer is ignored (or ends that peer's call cleanly) while the node keeps serving
// everyone else: a healthy call placed at the same time completes its turn.

import { afterEach, expect, test } from "vitest";
import WebSocket from "ws";
import { FakeLlm, FakeStt } from "../../../media-nodes/src/providers/fake/index.ts";
import { type Harness, sleep, startHarness, until } from "./support/harness.ts";
import { TwilioTestClient } from "./support/twilio-client.ts";

let h: Harness | undefined;
afterEach(async () => h?.close());

/** A healthy call: one caller turn answered and recorded. */
async function healthyCall(harness: Harness, line: string): Promise<TwilioTestClient> {
  const caller = await TwilioTestClient.connect(harness.wsUrl());
  caller.start(await harness.token());
  await until(() => harness.stt.sessions.length > 0 && harness.stt.current !== undefined, "the healthy call to start");
  const session = harness.stt.current!;
  session.emit(FakeStt.final(line));
  return caller;
}

test("garbage, unknown events, bad payloads, early media and a second start are ignored; other calls go on", async () => {
  h = await startHarness({ llm: [FakeLlm.say("Happy to help with that.")], tts: { bytesPerChar: 40 } });
  const noisy = await TwilioTestClient.connect(h.wsUrl());
  // Before start: media is ignored (nothing is admitted yet, nothing is spent).
  noisy.sendMedia(new Uint8Array(160).fill(0xff));
  noisy.start(await h.token());
  await until(() => h!.stt.sessions.length === 1, "the noisy call to be admitted");
  const noisySession = h.stt.sessions[0]!;

  noisy.send("{not json");
  noisy.send("[]");
  noisy.send(JSON.stringify({ event: "party", data: 1 }));
  noisy.send(JSON.stringify({ event: "media", media: { payload: "%%%not base64%%%" } }));
  noisy.send(JSON.stringify({ event: "media", media: { payload: Buffer.alloc(800, 0x55).toString("base64") } }));
  noisy.send(JSON.stringify({ event: "media" }));
  noisy.send(
    JSON.stringify({ event: "media", media: { track: "outbound", payload: Buffer.alloc(160).toString("base64") } }),
  );
  noisy.ws.send(Buffer.from([1, 2, 3]));
  noisy.send({
    event: "start",
    start: { streamSid: "MZother", customParameters: { token: await h.token({ tenantId: "ten_other" }) } },
  });

  const healthy = await healthyCall(h, "Can you help me?");
  await until(() => h!.sink.ofType("turn").some((t) => t.userText === "Can you help me?"), "the healthy call's turn");
  expect(h.sink.ofType("turn").find((t) => t.userText === "Can you help me?")!.assistantText).toBe(
    "Happy to help with that.",
  );

  // The noisy call is still up, still the first tenant's, and its junk never reached speech recognition.
  expect(noisy.closeCode).toBeUndefined();
  const started = h.sink.ofType("call.started");
  expect(started.map((e) => e.tenantId)).toEqual(["ten_test", "ten_test"]);
  // Only its genuine 20 ms silence frames (silence reaches STT batched into longer chunks): not the
  // oversized 0x55 payload, not the outbound-track zeros.
  expect(noisySession.audio.length).toBeGreaterThan(0);
  expect(noisySession.audioBytes % 160).toBe(0);
  expect(noisySession.audio.every((chunk) => chunk.every((b) => b === 0xff))).toBe(true);
  const bad = h.node.metrics.badMessages;
  for (const reason of [
    "media-before-start",
    "not-json-event",
    "unknown-event",
    "not-base64",
    "oversized-frame",
    "bad-media",
    "foreign-track",
    "binary-frame",
    "second-start",
  ]) {
    expect(bad.get({ reason }), reason).toBeGreaterThan(0);
  }
  await Promise.all([noisy.hangUp(), healthy.hangUp()]);
});

test("a peer that keeps sending garbage loses its own call, not anyone else's", async () => {
  h = await startHarness({ llm: [FakeLlm.say("Sure thing.")], tts: { bytesPerChar: 40 } });
  const noisy = await TwilioTestClient.connect(h.wsUrl());
  noisy.start(await h.token());
  await until(() => h!.stt.sessions.length === 1, "the noisy call to be admitted");
  const healthy = await healthyCall(h, "Hello there.");
  for (let i = 0; i < 250; i++) noisy.send("garbage");
  await noisy.closed();
  expect(noisy.closeCode).toBe(4400);
  expect(noisy.closeReason).toContain("too many invalid messages");
  await until(() => h!.sink.ofType("turn").some((t) => t.userText === "Hello there."), "the healthy call's turn");
  expect(h.sink.ofType("call.ended").map((e) => e.reason)).toEqual(["protocol-error"]);
  await healthy.hangUp();
});

test("a caller who hangs up mid-answer ends only that call, and the answer stops", async () => {
  let signal: AbortSignal | undefined;
  h = await startHarness({
    llm: [
      (req) => {
        signal = req.signal;
        return FakeLlm.say("Let me tell you all about our many wonderful bicycles, one by one, in great detail.");
      },
      FakeLlm.say("Of course."),
    ],
    llmOptions: { tokenDelayMs: 60 },
    tts: { bytesPerChar: 80 },
  });
  const leaving = await TwilioTestClient.connect(h.wsUrl());
  leaving.start(await h.token());
  await until(() => h!.stt.sessions.length === 1, "the first call to start");
  h.stt.sessions[0]!.emit(FakeStt.final("Tell me about your bikes."));
  await until(() => leaving.receivedBytes > 0, "the answer to start playing");
  leaving.terminate();
  await until(() => h!.sink.ofType("call.ended").length === 1, "the call to end");
  expect(h.sink.ofType("call.ended")[0]!.reason).toBe("caller-hung-up");
  expect(signal?.aborted).toBe(true);
  expect(h.stt.sessions[0]!.closed).toBe(true);
  expect(h.tts.sessions[0]!.closed).toBe(true);

  const healthy = await healthyCall(h, "Can I book a repair?");
  await until(() => h!.sink.ofType("turn").some((t) => t.userText === "Can I book a repair?"), "the next call's turn");
  await healthy.hangUp();
});

test("unknown paths are 404 and plain HTTP on a call endpoint is not upgraded", async () => {
  h = await startHarness();
  expect((await fetch(`${h.node.url}/nope`)).status).toBe(404);
  const ws = new WebSocket(`${h.wsUrl("/v1/unknown")}`);
  const status = await new Promise<number>((resolve) => {
    ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
    ws.on("open", () => resolve(101));
  });
  expect(status).toBe(404);
  await sleep(10);
});
