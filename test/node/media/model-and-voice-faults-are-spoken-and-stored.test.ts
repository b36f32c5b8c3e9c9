// Issue 11's fault matrix, the model and voice rows, through the real path: the media node with the official AWS
// Bedrock and Deepgram SDKs against their emulators, called by the simulated Twilio caller speaking recorded speech.
// Bedrock throttles every model, or fails with a 5xx in the middle of its stream; the speech synthesis connection
// drops in the middle of a reply. The caller always hears something (the answer, what was said before the fault, an
// apology), every line spoken is stored with its turn, no turn hangs, and the call goes on.
import { afterAll, afterEach, beforeAll, expect, test } from "vitest";
import { type BedrockEmulator, startBedrockEmulator } from "../../../emulators/bedrock/index.ts";
import { type DeepgramEmulator, startDeepgramEmulator } from "../../../emulators/deepgram/index.ts";
import { loadFixtureIndex, SimulatedCaller } from "../../../emulators/twilio-caller/caller.ts";
import { bedrockLlm } from "../../../media-nodes/src/providers/bedrock/llm.ts";
import { deepgramStt } from "../../../media-nodes/src/providers/deepgram/stt.ts";
import { deepgramTts } from "../../../media-nodes/src/providers/deepgram/tts.ts";
import type { AgentRuntimeConfig } from "../../../shared/agent-config.ts";
import { type CutProxy, startCutProxy } from "./providers/cut-proxy.ts";
import { type Harness, startHarness, until } from "./support/harness.ts";

const APOLOGY = "I'm sorry, I'm having trouble answering right now. Could you say that again?";

let dg: DeepgramEmulator;
let br: BedrockEmulator;
let ttsLink: CutProxy;
let h: Harness | undefined;

beforeAll(async () => {
  [dg, br] = await Promise.all([
    startDeepgramEmulator({ port: 0, profile: "instant" }),
    startBedrockEmulator({ port: 0, profile: "instant" }),
  ]);
  // Speech synthesis goes through a link the test can cut, as a network failure does (no close frame).
  ttsLink = await startCutProxy(dg.url);
});
afterEach(async () => {
  await h?.close();
  h = undefined;
  br.reset();
});
afterAll(async () => {
  await ttsLink?.close();
  await Promise.all([dg?.close(), br?.close()]);
});

async function node(agent: Partial<AgentRuntimeConfig> = {}): Promise<Harness> {
  h = await startHarness({
    agent,
    sttProvider: deepgramStt({ apiKey: "emulator-key", baseUrl: dg.url }),
    ttsProvider: deepgramTts({ apiKey: "emulator-key", baseUrl: ttsLink.url }),
    llmProvider: bedrockLlm({
      region: "us-east-1",
      endpoint: br.url,
      credentials: { accessKeyId: "emulator", secretAccessKey: "emulator" },
    }),
  });
  return h;
}

async function call(harness: Harness, callId: string, lines: string[]): Promise<SimulatedCaller> {
  const index = await loadFixtureIndex();
  dg.setScript(
    callId,
    lines.map((name) => index.fixtures.find((f) => f.name === name)!.text),
  );
  const caller = await SimulatedCaller.connect({
    streamUrl: harness.wsUrl(),
    customParameters: { token: await harness.token({ callId }) },
    replyTimeoutMs: 8_000,
  });
  await until(() => harness.sink.ofType("call.started", callId).length === 1, "the call to start");
  await caller.pause(300);
  return caller;
}

function storedTurns(harness: Harness, callId: string) {
  return harness.sink.ofType("turn", callId);
}

async function hangUp(harness: Harness, caller: SimulatedCaller, callId: string): Promise<void> {
  await caller.hangUp();
  await until(() => harness.sink.ofType("call.ended", callId).length === 1, "the call to end");
  expect(harness.sink.ofType("call.ended", callId)[0]!.reason).toBe("caller-hung-up");
}

test("Bedrock throttles every model: the caller hears a spoken apology that is stored, and the call goes on", async () => {
  const harness = await node();
  const callId = "call_br_throttled";
  const caller = await call(harness, callId, ["order-status", "thanks-goodbye"]);
  // Every request throttled, however often the SDK and the node's fallback retry (the region fallback has its own
  // test: bedrock-falls-back-to-another-region.test.ts).
  br.injectFault({ kind: "ThrottlingException", count: 1_000 });
  const apologized = await caller.say("order-status");
  br.reset();
  const answered = await caller.say("thanks-goodbye");

  // What the caller hears: the apology at once instead of silence, then an answer to the next line.
  expect(apologized.timedOut).toBe(false);
  expect(apologized.firstAgentAudioMs!).toBeLessThan(2_000);
  expect(answered.timedOut).toBe(false);
  await until(() => storedTurns(harness, callId).length === 2, "both turns to be stored");
  const [first, second] = storedTurns(harness, callId);
  // What is stored: the apology is the turn's text (what the caller heard), and a line of its own.
  expect(first!.userText).toBe("Can you tell me where my order 48213 is?");
  expect(first!.waterfall.firstAudioSource).toBe("apology");
  expect(first!.assistantText).toBe(APOLOGY);
  expect(first!.lines).toEqual([{ source: "apology", text: APOLOGY }]);
  expect(first!.generatedText).toBe("");
  // The answer the caller heard is the model's last answered request (a speculative one before it may have been
  // dropped when the caller's final words differed).
  const answers = br.requests().filter((r) => r.reply?.text);
  expect(answers.length).toBeGreaterThanOrEqual(1);
  expect(second!.assistantText).toBe(answers.at(-1)!.reply!.text.trim());
  await hangUp(harness, caller, callId);
}, 30_000);

test("Bedrock fails with a 5xx mid-stream: what was spoken is kept, then the apology is spoken and stored", async () => {
  const harness = await node();
  const callId = "call_br_midstream";
  const caller = await call(harness, callId, ["order-status", "thanks-goodbye"]);
  br.injectFault({ kind: "InternalServerException", count: 1, midStream: true });
  const broken = await caller.say("order-status");
  const [request] = br.requests();
  expect(request!.error).toMatchObject({ type: "InternalServerException", midStream: true });
  const planned = request!.reply!.text;

  // What the caller hears: the model's first words, then the apology; no silence, no hang.
  expect(broken.timedOut).toBe(false);
  await until(() => storedTurns(harness, callId).length === 1, "the turn to be stored");
  const [turn] = storedTurns(harness, callId);
  expect(turn!.waterfall.firstAudioSource).toBe("speech");
  expect(turn!.lines).toEqual([{ source: "apology", text: APOLOGY }]);
  // What is stored: the words spoken before the stream broke (a prefix of what the model meant to say, at least
  // its first clause), not the apology alone and not the words it never sent.
  expect(turn!.assistantText.length).toBeGreaterThan(0);
  expect(planned.replace(/\s+/g, " ").startsWith(turn!.assistantText)).toBe(true);
  expect(turn!.assistantText.length).toBeLessThan(planned.length);
  expect(turn!.generatedText).toBe(turn!.assistantText);

  // The call goes on, and the model is told what it had said.
  await caller.say("thanks-goodbye");
  await until(() => storedTurns(harness, callId).length === 2, "the next turn");
  const history = br.requests()[1]!;
  expect(JSON.stringify(history)).toContain(turn!.assistantText.slice(0, 40));
  await hangUp(harness, caller, callId);
}, 30_000);

test("the speech synthesis connection drops mid-reply: the rest of the reply still reaches the caller", async () => {
  const harness = await node();
  const callId = "call_tts_drop";
  const caller = await call(harness, callId, ["order-status"]);
  const connectionsBefore = ttsLink.connections;
  const saying = caller.say("order-status");
  // As the reply's first audio arrives (later clauses still being synthesized), the synthesis connection is cut
  // (no close frame).
  await until(() => caller.report().agentAudioReceivedMs > 0, "the reply to be heard", 15_000);
  ttsLink.cut();
  const heard = await saying;

  // What the caller hears: the whole reply (re-spoken from the last confirmed clause by the fallback voice), not a
  // reply cut off and left hanging.
  expect(heard.timedOut).toBe(false);
  await until(() => storedTurns(harness, callId).length === 1, "the turn to be stored");
  const [turn] = storedTurns(harness, callId);
  const planned = br.requests()[0]!.reply!.text.trim();
  expect(turn!.assistantText).toBe(planned);
  expect(turn!.interrupted).toBe(false);
  expect(heard.agentAudioMs).toBeGreaterThan(2_000);
  // The fallback voice's connection was opened and given the text not yet confirmed (more than its upgrade request).
  const reopened = ttsLink.requestHeads
    .map((head, i) => ({ head, up: ttsLink.bytesUp[i] ?? 0 }))
    .slice(connectionsBefore)
    .filter((c) => c.head.includes(`model=${harness.agent.fallbackVoice}`));
  expect(reopened).toHaveLength(1);
  expect(reopened[0]!.up).toBeGreaterThan(reopened[0]!.head.length + 40);
  await hangUp(harness, caller, callId);
}, 30_000);
