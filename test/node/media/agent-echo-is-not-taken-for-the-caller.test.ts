// The agent's own voice coming back down the line (echo, at least ~15 dB quieter than we sent it) is not
// the caller speaking: the local VAD raises its threshold to what an echo of the audio it just sent
// could reach. A caller louder than that still counts, so barge-in keeps working over the agent.
import { afterEach, describe, expect, it, test } from "vitest";
import { EnergyVad, mulawLevelDbfs } from "../../../media-nodes/src/pipeline/vad.ts";
import { FakeLlm, FakeStt } from "../../../media-nodes/src/providers/fake/index.ts";
import { type Harness, sleep, startHarness, until } from "./support/harness.ts";
import { loudFrame, TwilioTestClient } from "./support/twilio-client.ts";

/** Peak amplitudes of a 300 Hz tone: about -10 dBFS, and about -30 dBFS (20 dB below). */
const LOUD = 10_000;
const ECHO = 1_000;

describe("EnergyVad echo ceiling", () => {
  const feed = (vad: EnergyVad, frame: Uint8Array, from: number, frames: number, outbound?: Uint8Array) => {
    let speaking = false;
    for (let i = 0; i < frames; i++) {
      const now = from + i * 20;
      if (outbound) vad.noteOutbound(outbound, now);
      speaking = vad.process(frame, now) || speaking;
    }
    return speaking;
  };

  it("calls a quiet tone speech when we are silent, and not when it is an echo of what we just sent", () => {
    const echo = loudFrame(ECHO);
    expect(mulawLevelDbfs(loudFrame(LOUD)) - mulawLevelDbfs(echo)).toBeGreaterThan(15);
    expect(feed(new EnergyVad(), echo, 0, 10)).toBe(true);
    expect(feed(new EnergyVad(), echo, 0, 10, loudFrame(LOUD))).toBe(false);
  });

  it("still hears a caller louder than the echo could be, and forgets our audio after the echo window", () => {
    expect(feed(new EnergyVad(), loudFrame(LOUD), 0, 10, loudFrame(LOUD))).toBe(true);
    const vad = new EnergyVad({ echoWindowMs: 600 });
    feed(vad, new Uint8Array(160).fill(0xff), 0, 10, loudFrame(LOUD));
    // 1 s after our last frame: nothing of ours can still be echoing.
    expect(feed(vad, loudFrame(ECHO), 1_200, 10)).toBe(true);
  });
});

let h: Harness | undefined;
afterEach(async () => h?.close());

test("in a call, the agent's echo does not register as caller speech; the caller talking over it does", async () => {
  h = await startHarness({
    llm: [FakeLlm.say("Our store on Main Street is open from nine until five, every day of the week but Sunday.")],
    tts: { bytesPerChar: 160 },
  });
  const caller = await TwilioTestClient.connect(h.wsUrl());
  caller.start(await h.token());
  await until(() => h!.stt.current !== undefined, "the call to start");
  const session = h.node.calls()[0]!;

  // Before the agent says anything, the quiet tone is the caller: the VAD hears it.
  caller.talk(true, ECHO);
  await until(() => session.callerAudio.speaking, "the VAD to hear the quiet caller");
  caller.talk(false);
  await until(() => !session.callerAudio.speaking, "the VAD to hear silence");

  h.stt.emit(FakeStt.final("When are you open?"));
  await until(() => caller.playedBytes > 1_600, "the reply to be playing");
  // The same level while the agent talks is what its echo sounds like (the fake voice is about -12 dBFS).
  caller.talk(true, ECHO);
  let heardEcho = false;
  for (let i = 0; i < 40; i++) {
    await sleep(20);
    heardEcho ||= session.callerAudio.speaking;
  }
  expect(caller.playedBytes).toBeLessThan(8_000 * 6); // the agent was still talking throughout
  expect(heardEcho).toBe(false);

  // The caller speaking up over the agent is heard.
  caller.talk(true, LOUD);
  await until(() => session.callerAudio.speaking, "the VAD to hear the caller over the agent");
  caller.talk(false);
  await caller.hangUp();
});
