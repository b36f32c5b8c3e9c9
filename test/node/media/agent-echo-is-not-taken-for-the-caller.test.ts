// The agent's own voice coming back down the line (echo, at least ~15 dB quieter than we sent it) is not
// the caller speaking: the local VAD raises its threshold to what an echo of the audio it just sent
// could reach. A caller louder than that still counts, so barge-in keeps working over the agent. The line
// shows how much of the agent comes back: once it has, a line with little echo hears a caller's soft first
// sound over the agent at once, and a line with a real echo still never takes it for the caller.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, test } from "vitest";
import { EnergyVad, mulawLevelDbfs } from "../../../media-nodes/src/pipeline/vad.ts";
import { FakeLlm, FakeStt } from "../../../media-nodes/src/providers/fake/index.ts";
import { mulawToPcm16, pcm16ToMulaw } from "../../../shared/audio/mulaw.ts";
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

describe("EnergyVad learns the line's echo", () => {
  const speech = (name: string) =>
    new Uint8Array(readFileSync(join(import.meta.dirname, "../../fixtures/speech", name)));
  /** Real speech as the agent's voice: about 8 s of it, loudest frames near -13 dBFS. */
  const agent = Uint8Array.from(
    ["opening-hours", "compare-plans", "order-status", "book-appointment"].flatMap((n) => [...speech(`${n}.ulaw`)]),
  );
  const agentFrame = (k: number) => agent.subarray(k * 160, (k + 1) * 160);
  const agentFrames = Math.floor(agent.length / 160);
  const silence = new Uint8Array(160).fill(0xff);
  /** `frame` `lossDb` quieter, as the line's echo path would return it. */
  const attenuate = (frame: Uint8Array, lossDb: number) =>
    pcm16ToMulaw(Int16Array.from(mulawToPcm16(frame), (x) => Math.round(x * 10 ** (-lossDb / 20))));
  /** "Sorry, wait, …": its first 80 ms are a soft "s", about -39 dBFS, 26 dB under the agent's loudest. */
  const sorry = speech("barge-in-change-address.ulaw");

  /** The agent talks from frame 0; `inbound(k)` is what the line brings back at frame k. Frames at which the VAD heard speech. */
  const talk = (vad: EnergyVad, frames: number, inbound: (k: number) => Uint8Array) => {
    const heard: number[] = [];
    for (let k = 0; k < frames; k++) {
      vad.noteOutbound(agentFrame(k), k * 20);
      if (vad.process(inbound(k), k * 20 + 5)) heard.push(k);
    }
    return heard;
  };

  it("never takes a real echo of the agent for the caller, however long the agent talks", () => {
    for (const lossDb of [18, 25, 35]) {
      const vad = new EnergyVad();
      // The echo comes back 100 ms after we sent it.
      expect(talk(vad, agentFrames, (k) => (k >= 5 ? attenuate(agentFrame(k - 5), lossDb) : silence))).toEqual([]);
      // The line showed its echo: the VAD does not assume less than it saw (less the margin), nor less than 15 dB.
      expect(vad.echoLossDb).toBeLessThanOrEqual(Math.max(15, lossDb));
    }
  });

  it("on a line that returns little of the agent, hears a caller's soft first sound over it within three frames", () => {
    const vad = new EnergyVad();
    // Two seconds of the agent talking with nothing coming back, then the caller says "Sorry, wait, …" over it.
    const from = 100;
    const heard = talk(vad, from + 10, (k) =>
      k < from ? silence : sorry.subarray((k - from) * 160, (k - from + 1) * 160),
    );
    expect(heard[0]).toBe(from + 2);
    expect(vad.echoLossDb).toBeGreaterThan(30);
  });

  it("until the line has shown its echo, assumes the cautious one: the soft sound waits for the loud part of the word", () => {
    const vad = new EnergyVad();
    const from = 10;
    const heard = talk(vad, from + 10, (k) =>
      k < from ? silence : sorry.subarray((k - from) * 160, (k - from + 1) * 160),
    );
    expect(vad.echoLossDb).toBe(15);
    expect(heard[0]).toBeGreaterThan(from + 2);
  });

  it("an echo that grows mid-call is heard as speech until a resumed pause makes the VAD learn the line again", () => {
    const vad = new EnergyVad();
    // Two seconds with nothing coming back, then the caller switches to a speakerphone: the echo is 22 dB down.
    const echo = (k: number) => (k < 100 ? silence : attenuate(agentFrame(k - 5), 22));
    const heard = talk(vad, 200, echo);
    expect(heard.length).toBeGreaterThan(0);
    // The pause it caused resumed with no interruption: back to the cautious assumption, and it holds from then on.
    vad.relearnEcho();
    expect(vad.echoLossDb).toBe(15);
    const after: number[] = [];
    for (let k = 200; k < agentFrames; k++) {
      vad.noteOutbound(agentFrame(k), k * 20);
      if (vad.process(echo(k), k * 20 + 5)) after.push(k);
    }
    // The utterance it was taken for ends with the VAD's hangover (200 ms), and no new one starts.
    expect(after.filter((k) => k >= 210)).toEqual([]);
    expect(after.length).toBeLessThan(10);
  });

  it("a caller's stray quiet sound while the agent talks does not make the line look echoey", () => {
    const vad = new EnergyVad();
    // A breath at -40 dBFS, two frames, every second: what the caller makes, not what the line returns.
    const breath = attenuate(agentFrame(40), 27);
    talk(vad, 150, (k) => (k % 50 < 2 ? breath : silence));
    expect(vad.echoLossDb).toBeGreaterThan(30);
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
