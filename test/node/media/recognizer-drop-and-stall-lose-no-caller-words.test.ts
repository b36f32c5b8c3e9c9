// Issue 11's fault matrix, the recognizer rows, through the real path: the media node with the official Deepgram SDK
// (STT and TTS) against the Deepgram emulator, called by the simulated Twilio caller speaking recorded speech. The
// emulator drops the call's listen stream mid-sentence, or stalls it (audio taken, nothing answered). The caller's
// words survive (replayed into a fresh stream), the agent answers them, the caller hears a filler rather than dead
// air while a stalled recognizer is replaced, and every line spoken is stored with the turn.
import { afterAll, beforeAll, expect, test } from "vitest";
import { type DeepgramEmulator, startDeepgramEmulator } from "../../../emulators/deepgram/index.ts";
import { loadFixtureIndex, SimulatedCaller } from "../../../emulators/twilio-caller/caller.ts";
import { deepgramStt } from "../../../media-nodes/src/providers/deepgram/stt.ts";
import { deepgramTts } from "../../../media-nodes/src/providers/deepgram/tts.ts";
import { FakeLlm } from "../../../media-nodes/src/providers/fake/index.ts";
import { createLogger } from "../../../media-nodes/src/server/logger.ts";
import { type Harness, startHarness, until } from "./support/harness.ts";

let dg: DeepgramEmulator;
let h: Harness;
const logLines: { msg: string; cause?: string; at: number }[] = [];
/** Called on the node's "speech recognition reopened" log line, in the same tick as the reopen. */
let onReopen: (() => void) | undefined;

beforeAll(async () => {
  dg = await startDeepgramEmulator({ port: 0, profile: "instant" });
  h = await startHarness({
    agent: { firstMessage: null },
    llm: [FakeLlm.say("Your order 48213 ships on Thursday."), FakeLlm.say("We open at nine on Saturday.")],
    sttProvider: deepgramStt({ apiKey: "emulator-key", baseUrl: dg.url }),
    ttsProvider: deepgramTts({ apiKey: "emulator-key", baseUrl: dg.url }),
    logger: createLogger("info", {}, (line) => {
      const entry = JSON.parse(line) as { msg: string; cause?: string };
      logLines.push({ ...entry, at: performance.now() });
      if (entry.msg.startsWith("speech recognition reopened")) onReopen?.();
    }),
  });
});

afterAll(async () => {
  await h?.close();
  await dg?.close();
});

async function line(name: string): Promise<{ text: string; durationMs: number }> {
  const f = (await loadFixtureIndex()).fixtures.find((x) => x.name === name)!;
  return { text: f.text, durationMs: f.durationMs };
}

async function connect(callId: string): Promise<SimulatedCaller> {
  const caller = await SimulatedCaller.connect({
    streamUrl: h.wsUrl(),
    customParameters: { token: await h.token({ callId }) },
    replyTimeoutMs: 8_000,
  });
  await until(() => h.sink.ofType("call.started", callId).length === 1, "the call to start");
  return caller;
}

test("Deepgram drops the stream mid-sentence: the sentence is replayed, answered, and stored", async () => {
  const callId = "call_dg_drop";
  const order = await line("order-status");
  // The emulator cannot recognise words: each utterance it detects takes the next scripted line. The fresh stream
  // hears the replayed sentence again, so the script repeats it.
  dg.setScript(callId, [order.text, order.text, order.text]);
  const caller = await connect(callId);
  await caller.pause(300);
  // Halfway through the sentence the connection is lost (no close frame: a 1006, as a network cut).
  const dropped = new Promise<number>((resolve) =>
    setTimeout(() => resolve(dg.injectFault({ kind: "drop", tag: callId })), order.durationMs / 2),
  );
  const turn = await caller.say("order-status");
  expect(await dropped).toBe(1);

  // What the caller hears: the answer, with no turn left hanging.
  expect(turn.timedOut).toBe(false);
  expect(turn.firstAgentAudioMs).not.toBeNull();
  expect(turn.firstAgentAudioMs!).toBeLessThan(3_000);
  // What is stored: their whole sentence (the words before the cut were not lost) and the answer they heard.
  await until(() => h.sink.ofType("turn", callId).length === 1, "the turn to be stored");
  const [stored] = h.sink.ofType("turn", callId);
  expect(stored!.userText).toBe(order.text);
  expect(stored!.assistantText).toBe("Your order 48213 ships on Thursday.");
  await caller.hangUp();
  await until(() => h.sink.ofType("call.ended", callId).length === 1, "the call to end");
  expect(h.sink.ofType("call.ended", callId)[0]!.reason).toBe("caller-hung-up");
}, 30_000);

test("Deepgram stalls: noticed within 2 s, reopened with the replay, a filler plays, logged, counted, and stored", async () => {
  const callId = "call_dg_stall";
  const hours = await line("opening-hours");
  // The stalled stream still hears (and takes) the sentence; the fresh one hears its replay.
  dg.setScript(callId, [hours.text, hours.text, hours.text]);
  const caller = await connect(callId);
  const stallsBefore = h.node.metrics.sttRecoveries.get({ cause: "stall" });
  const fillersBefore = h.node.metrics.fillers.get();
  await caller.pause(300);
  expect(dg.injectFault({ kind: "stall", tag: callId })).toBe(1);
  // A stalled connection, not a dead service: the stream the node opens next works.
  let reopenedAt: number | undefined;
  onReopen = () => {
    reopenedAt = performance.now();
    dg.clearFaults();
  };
  const speechStart = performance.now();
  const turn = await caller.say("opening-hours");
  onReopen = undefined;

  // Noticed within 2 s of the caller's speech with no result: the stall bar runs from the end of their speech
  // (the recognizer would have sent interims all along, and a final soon after).
  expect(reopenedAt).toBeDefined();
  const speechEnd = speechStart + hours.durationMs;
  expect(reopenedAt! - speechEnd).toBeLessThanOrEqual(2_000);
  expect(h.node.metrics.sttRecoveries.get({ cause: "stall" }) - stallsBefore).toBe(1);
  const log = logLines.find((l) => l.msg.startsWith("speech recognition reopened") && l.cause === "stall");
  expect(log).toBeDefined();

  // What the caller hears: never two seconds of dead air; the filler, then the answer.
  expect(turn.timedOut).toBe(false);
  expect(turn.firstAgentAudioMs!).toBeLessThan(2_000);
  expect(h.node.metrics.fillers.get() - fillersBefore).toBe(1);
  // What is stored: the sentence said into the stall, the filler that played, and the answer.
  await until(() => h.sink.ofType("turn", callId).length === 1, "the turn to be stored");
  const [stored] = h.sink.ofType("turn", callId);
  expect(stored!.userText).toBe(hours.text);
  expect(stored!.assistantText).toBe("We open at nine on Saturday.");
  expect(stored!.lines).toEqual([{ source: "filler", text: "Sorry, one moment…" }]);
  await caller.hangUp();
}, 30_000);
