// Barge-in: the caller talks over the agent. The agent must stop at once (Twilio `clear` within one frame
// of detecting it, TTS cleared, the model's stream aborted), and remember only what the caller actually
// heard, so the model's next request does not pretend the caller heard the rest. A back-channel ("uh-huh")
// or the agent's own words coming back must not interrupt.
import { afterEach, expect, test } from "vitest";
import { FakeLlm, FakeStt } from "../../../media-nodes/src/providers/fake/index.ts";
import type { LlmRequest } from "../../../media-nodes/src/providers/types.ts";
import { type Harness, sleep, startHarness, until } from "./support/harness.ts";
import { TwilioTestClient } from "./support/twilio-client.ts";

let h: Harness | undefined;
afterEach(async () => h?.close());

const LONG_REPLY =
  "Our store on Main Street is open from nine in the morning. On weekends we open at ten, and we close at four. " +
  "Holidays vary from year to year, so please check our website before you come in.";

function assistantTexts(request: LlmRequest): string[] {
  return request.messages
    .filter((m) => m.role === "assistant")
    .map((m) =>
      m.content
        .filter((c) => c.type === "text")
        .map((c) => (c.type === "text" ? c.text : ""))
        .join(""),
    );
}

test("the caller interrupts mid-sentence: clear within a frame, stream aborted, history cut to what was heard", async () => {
  let firstSignal: AbortSignal | undefined;
  let secondRequestAt = Number.POSITIVE_INFINITY;
  h = await startHarness({
    llm: [
      (req) => {
        firstSignal = req.signal;
        return FakeLlm.say(LONG_REPLY);
      },
      () => {
        secondRequestAt = performance.now();
        return FakeLlm.say("Sure, go ahead.");
      },
    ],
    // Slow enough that the model is still talking when the caller cuts in.
    llmOptions: { ttftMs: 10, tokenDelayMs: 40 },
    tts: { bytesPerChar: 80 },
  });
  const caller = await TwilioTestClient.connect(h.wsUrl());
  caller.start(await h.token());
  await until(() => h!.stt.current !== undefined, "the call to start");
  h.stt.emit(FakeStt.final("When are you open?"));

  // Let the first clause play out completely (its mark comes back), then talk over the second.
  await until(() => caller.echoed.some((m) => m.name.startsWith("t1c")), "the first clause to be heard");
  await sleep(300);
  caller.talk(true);
  await sleep(400);
  // The interim that proves the interruption is the moment of detection. (Measured on the node's side:
  // the caller shares this process's event loop, so its receive time also counts the test's own waits.)
  const session = h.node.calls()[0]!;
  const detectedAt = performance.now();
  h.stt.emit(FakeStt.interim("wait can I ask"));
  // Detection to `clear` written to the caller's socket: within one 20 ms frame, not at the next tick,
  // not after the model and TTS are told.
  expect(session.telemetry.lastBargeIn).toBeDefined();
  expect(session.telemetry.lastBargeIn!.clearSentAt - detectedAt).toBeLessThanOrEqual(20);
  await until(() => caller.events("clear").length === 1, "the agent to clear its audio");
  const clearAt = caller.events("clear")[0]!.at;
  h.stt.emit(FakeStt.final("Wait, can I ask something else?"));
  caller.talk(false);
  await until(() => h!.llm.requests.length === 2, "the caller's new turn to reach the model");

  const [interrupted] = h.sink.ofType("turn");
  expect(interrupted!.interrupted).toBe(true);
  expect(interrupted!.clearDelayMs).toBeDefined();
  expect(firstSignal?.aborted).toBe(true);
  expect(h.tts.sessions[0]!.clearCalls).toBeGreaterThanOrEqual(1);
  // Nothing of the old reply arrives after the clear.
  const lateMedia = caller.events("media").filter((m) => m.at > clearAt + 5 && m.at < secondRequestAt);
  expect(lateMedia).toHaveLength(0);

  // What was heard: the first clause whole, and part of what followed, never all of it.
  const heard = interrupted!.assistantText;
  expect(heard.startsWith("Our store on Main Street is open from nine in the morning.")).toBe(true);
  expect(heard.length).toBeLessThan(LONG_REPLY.length);
  expect(LONG_REPLY.startsWith(heard)).toBe(true);
  // The model's next request carries exactly that, followed by the caller's interruption.
  const next = h.llm.requests[1]!;
  expect(assistantTexts(next)).toEqual([heard]);
  const lastUser = next.messages.at(-1)!;
  expect(lastUser.role).toBe("user");
  expect(JSON.stringify(lastUser.content)).toContain("Wait, can I ask something else?");
  expect(h.node.metrics.bargeIns.get()).toBe(1);
});

test("a back-channel or the agent's own echo never interrupts", async () => {
  h = await startHarness({
    llm: [FakeLlm.say(LONG_REPLY), FakeLlm.say("You're welcome.")],
    // About 3.4 s of speech: room for both attempts to happen while the agent is still talking.
    tts: { bytesPerChar: 160 },
  });
  const caller = await TwilioTestClient.connect(h.wsUrl());
  caller.start(await h.token());
  await until(() => h!.stt.current !== undefined, "the call to start");
  h.stt.emit(FakeStt.final("When are you open?"));
  await until(() => caller.playedBytes > 1600, "the reply to be playing");

  // "Uh-huh" over the agent, loud and long enough for the VAD.
  caller.talk(true);
  await sleep(500);
  h.stt.emit(FakeStt.final("Uh-huh.", { speechFinal: true }));
  caller.talk(false);
  await sleep(300);
  // The agent's own words picked up by the recognizer (line echo): all of them are in its sentence.
  caller.talk(true);
  await sleep(400);
  h.stt.emit(FakeStt.final("on weekends we open at ten", { speechFinal: true }));
  caller.talk(false);

  // Both attempts happened while the agent was still audible (else the test proves nothing).
  expect(caller.playedBytes).toBeLessThan(LONG_REPLY.length * 160);
  await until(() => h!.sink.ofType("turn").length === 1, "the reply to finish", 15_000);
  const [turn] = h.sink.ofType("turn");
  expect(turn!.interrupted).toBe(false);
  expect(turn!.assistantText).toBe(LONG_REPLY);
  expect(caller.events("clear")).toHaveLength(0);
  // Neither became a caller turn.
  expect(h.llm.requests).toHaveLength(1);

  // After the agent finished, a short "okay" is a real answer and gets a reply.
  h.stt.emit(FakeStt.final("Okay, thanks."));
  await until(() => h!.llm.requests.length === 2, "the caller's turn");
});

// Per-agent thresholds: the same two-word interjection, spoken over the agent for about half a second,
// interrupts or not depending on the agent's bargeIn policy.
test.each([
  { minWords: 1, minDurationMs: 300, interrupts: true },
  { minWords: 3, minDurationMs: 300, interrupts: false },
  { minWords: 1, minDurationMs: 1_500, interrupts: false },
])(
  "with minWords $minWords and minDurationMs $minDurationMs, “Excuse me” interrupts: $interrupts",
  async ({ minWords, minDurationMs, interrupts }) => {
    h = await startHarness({
      agent: { bargeIn: { minWords, minDurationMs, backchannels: ["uh-huh", "okay"] } },
      llm: [FakeLlm.say(LONG_REPLY), FakeLlm.say("Yes, what is it?")],
      tts: { bytesPerChar: 160 },
    });
    const caller = await TwilioTestClient.connect(h.wsUrl());
    caller.start(await h.token());
    await until(() => h!.stt.current !== undefined, "the call to start");
    h.stt.emit(FakeStt.final("When are you open?"));
    await until(() => caller.playedBytes > 1600, "the reply to be playing");
    caller.talk(true);
    await sleep(500);
    // Two words over 0.55 s (word timings), neither a back-channel nor the agent's own.
    h.stt.emit(FakeStt.final("Excuse me.", { speechFinal: true }));
    caller.talk(false);
    await sleep(200);
    // Still while the agent talks (else the test proves nothing).
    expect(caller.playedBytes).toBeLessThan(LONG_REPLY.length * 160);
    expect(caller.events("clear")).toHaveLength(interrupts ? 1 : 0);
    if (interrupts) {
      await until(() => h!.llm.requests.length === 2, "the interjection to become the caller's turn");
      expect(h.sink.ofType("turn")[0]!.interrupted).toBe(true);
    } else {
      await until(() => h!.sink.ofType("turn").length === 1, "the reply to finish", 15_000);
      expect(h.sink.ofType("turn")[0]!.interrupted).toBe(false);
      expect(h.llm.requests).toHaveLength(1);
    }
  },
);
