// Barge-in with the node's real provider clients (the official Deepgram and AWS SDKs) against the
// emulators, called by the simulated Twilio caller speaking recorded speech. The caller says "uh-huh"
// over one answer (the agent pauses on the onset, then goes on with only a short silence), then talks over
// the next one: the agent's audio stops, as the caller hears it, soon after their speech onset (the pause),
// Twilio `clear` reaches the caller, nothing more of that answer follows it, and the model's next request
// carries only what was heard. The precise time-to-silence is the bench's; here it is a behaviour with a
// generous bound (it was ~640 ms when the agent waited for words).
import { afterAll, beforeAll, expect, test } from "vitest";
import { type BedrockEmulator, type RecordedRequest, startBedrockEmulator } from "../../../emulators/bedrock/index.ts";
import { type DeepgramEmulator, startDeepgramEmulator } from "../../../emulators/deepgram/index.ts";
import { loadFixtureIndex, SimulatedCaller } from "../../../emulators/twilio-caller/caller.ts";
import { bedrockLlm } from "../../../media-nodes/src/providers/bedrock/llm.ts";
import { deepgramStt } from "../../../media-nodes/src/providers/deepgram/stt.ts";
import { deepgramTts } from "../../../media-nodes/src/providers/deepgram/tts.ts";
import { type Harness, startHarness, until } from "./support/harness.ts";
import { startWsTap, type WsTap } from "./support/ws-tap.ts";

let dg: DeepgramEmulator;
let br: BedrockEmulator;
let h: Harness;
let tap: WsTap;

beforeAll(async () => {
  [dg, br] = await Promise.all([
    startDeepgramEmulator({ port: 0, profile: "instant" }),
    startBedrockEmulator({ port: 0, profile: "instant" }),
  ]);
  h = await startHarness({
    agent: { systemPrompt: "You are the phone receptionist of Spokes, a bike shop." },
    sttProvider: deepgramStt({ apiKey: "emulator-key", baseUrl: dg.url }),
    ttsProvider: deepgramTts({ apiKey: "emulator-key", baseUrl: dg.url }),
    llmProvider: bedrockLlm({
      region: "us-east-1",
      endpoint: br.url,
      credentials: { accessKeyId: "emulator", secretAccessKey: "emulator" },
    }),
  });
  tap = await startWsTap(h.wsUrl());
});

afterAll(async () => {
  await tap?.close();
  await h?.close();
  await Promise.all([dg?.close(), br?.close()]);
});

type Body = { messages?: { role: string; content: { text?: string }[] }[] };
const norm = (s: string) => s.replace(/\s+/g, " ").trim();
const streamed = () => br.requests().filter((r) => r.operation === "ConverseStream" && r.reply !== null);
const lastAssistantText = (r: RecordedRequest): string => {
  const messages = (r.body as Body).messages ?? [];
  const last = [...messages].reverse().find((m) => m.role === "assistant");
  return norm((last?.content ?? []).map((c) => c.text ?? "").join(" "));
};

test("uh-huh over the agent does not interrupt; talking over it clears, stops its audio, and cuts the history", async () => {
  const index = loadFixtureIndex();
  const text = (name: string) => index.fixtures.find((f) => f.name === name)!.text;
  const callId = "call_barge_real_1";
  dg.setScript(callId, [text("order-status"), text("uh-huh"), text("opening-hours"), text("barge-in-change-address")]);
  const caller = await SimulatedCaller.connect({
    streamUrl: tap.url,
    customParameters: { token: await h.token({ callId }) },
    replyTimeoutMs: 6_000,
  });
  try {
    // 1. A back-channel while the agent answers: it goes on, and "uh-huh" is no turn of its own.
    const backchannel = await caller.sayAndBargeIn("order-status", {
      afterAgentAudioMs: 600,
      line: "uh-huh",
    });
    expect(backchannel.interrupted.timedOut).toBe(false);
    expect(backchannel.bargeIn.clearAfterMs).toBeNull();
    expect(tap.fromNode.filter((m) => m.event === "clear")).toHaveLength(0);
    expect(streamed()).toHaveLength(1);
    const [firstTurn] = h.sink.ofType("turn", callId);
    expect(firstTurn!.interrupted).toBe(false);
    // The onset paused the answer and it resumed, with no more than half a second of silence heard.
    expect(firstTurn!.waterfall.pauses).toBeGreaterThanOrEqual(1);
    expect(firstTurn!.waterfall.resumedAt).toBeDefined();
    expect(backchannel.interrupted.longestAgentSilenceMs).toBeLessThanOrEqual(500);
    expect(norm(firstTurn!.assistantText)).toBe(norm(streamed()[0]!.reply!.text));

    // 2. The caller talks over the next answer.
    const barge = await caller.sayAndBargeIn("opening-hours", {
      afterAgentAudioMs: 1_500,
      line: "barge-in-change-address",
    });
    expect(barge.bargeIn.clearAfterMs).not.toBeNull();
    expect(barge.bargeIn.agentStoppedAfterOnsetMs).not.toBeNull();
    expect(barge.bargeIn.agentStoppedAfterOnsetMs!).toBeLessThanOrEqual(300);
  } finally {
    await caller.hangUp();
  }

  const clears = tap.fromNode.filter((m) => m.event === "clear");
  expect(clears).toHaveLength(1);
  const clearAt = clears[0]!.at;
  const requests = streamed();
  expect(requests).toHaveLength(3);
  const [, interruptedRequest, nextRequest] = requests;
  // Nothing of the interrupted answer reaches the caller after the clear: the next audio is the new
  // reply, which cannot exist before the model was asked for it.
  const mediaAfterClear = tap.fromNode.filter((m) => m.event === "media" && m.at > clearAt);
  expect(mediaAfterClear.filter((m) => m.at < nextRequest!.receivedAt)).toEqual([]);
  expect(mediaAfterClear.length).toBeGreaterThan(0);

  // The model's next request carries what the caller heard: a non-empty prefix of the full answer.
  const full = norm(interruptedRequest!.reply!.text);
  const heard = lastAssistantText(nextRequest!);
  expect(heard.length).toBeGreaterThan(0);
  expect(heard.length).toBeLessThan(full.length);
  expect(full.startsWith(heard)).toBe(true);
  expect(nextRequest!.lastUserText).toContain("change the delivery address");

  await until(() => h.sink.ofType("call.ended", callId).length === 1, "the call to end");
  const turns = h.sink.ofType("turn", callId);
  expect(turns.map((t) => t.interrupted)).toEqual([false, true, false]);
  expect(turns[1]!.waterfall.pauseToDecisionMs).toBeGreaterThan(0);
  expect(turns[1]!.waterfall.resumedAt).toBeUndefined();
  expect(norm(turns[1]!.assistantText)).toBe(heard);
}, 90_000);
