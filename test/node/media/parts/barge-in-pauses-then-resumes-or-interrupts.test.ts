// The two-step barge-in, on a Call constructed directly (no socket): scripted recognizer events, caller frames
// the real VAD hears, a link that keeps every frame the carrier would get, the node's clock ticked by the test in
// real time. Speech onset over the agent pauses its audio with no `clear`; a back-channel then resumes it from the
// frame where it stopped (every synthesized byte reaches the caller, in order, once); words past the thresholds
// interrupt it (clear, abort, history cut) with nothing sent between the pause and the clear. The agent's own
// echo never pauses it; the caller's own first words hold a pause through the gap after them.
import { afterAll, expect, test } from "vitest";
import { BargeInPause, type PauseRecord } from "../../../../media-nodes/src/pipeline/barge-in-pause.ts";
import { Call } from "../../../../media-nodes/src/pipeline/call.ts";
import type { SendStatus } from "../../../../media-nodes/src/pipeline/pacer.ts";
import { FakeLlm, FakeStt, FakeTts } from "../../../../media-nodes/src/providers/fake/index.ts";
import { fakeSpeech } from "../../../../media-nodes/src/providers/fake/tts.ts";
import { llmWithFallback, ttsWithFallback } from "../../../../media-nodes/src/providers/fallback.ts";
import type { TtsProvider } from "../../../../media-nodes/src/providers/types.ts";
import { InMemorySessionSink } from "../../../../media-nodes/src/session-sink/in-memory.ts";
import { mulawToPcm16, pcm16ToMulaw } from "../../../../shared/audio/mulaw.ts";
import type { CallTokenClaims } from "../../../../shared/call-token.ts";
import { compilePromptPrefix } from "../../../../shared/prompt-prefix.ts";
import { testAgent } from "../support/harness.ts";
import { ManualClock, partsEnv, RecordingLink, until } from "../support/parts.ts";

const env = partsEnv();
afterAll(() => env.close());

const LINES = { filler: "Sorry, one moment…", apology: "Sorry, I'm having trouble.", drainGoodbye: "Goodbye for now." };
const ANSWER =
  "We open at nine on weekdays and at ten on weekends. On public holidays we open at eleven. The workshop closes an hour before the shop does.";

/** Keeps a copy of every frame, as the carrier would play it. */
class TapeLink extends RecordingLink {
  readonly frameBytes: number[] = [];
  override sendFrame(frame: Uint8Array, marksAfter: readonly string[]): SendStatus {
    for (const b of frame) this.frameBytes.push(b);
    return super.sendFrame(frame, marksAfter);
  }
  clears(): number {
    return this.sent.filter((r) => r.type === "clear").length;
  }
}

async function setup(opts: { bytesPerChar?: number } = {}) {
  const agent = testAgent({
    bargeIn: { resumeAfterQuietMs: 160, resumeAfterWordsQuietMs: 450, maxPauseMs: 1_500 },
  });
  const prefix = await compilePromptPrefix(agent);
  const stt = new FakeStt();
  const fakeTts = new FakeTts({ bytesPerChar: opts.bytesPerChar ?? 40, firstByteMs: 0 });
  // Everything the call's TTS session synthesizes, in order: what the caller must hear.
  const synthesized: number[] = [];
  const tts: TtsProvider = {
    name: fakeTts.name,
    synthesize: (text, o) => fakeTts.synthesize(text, o),
    open: (o, onEvent) =>
      fakeTts.open(o, (e) => {
        if (e.type === "audio") for (const b of e.audio) synthesized.push(b);
        onEvent(e);
      }),
  };
  const sink = new InMemorySessionSink();
  const link = new TapeLink();
  const clock = new ManualClock(() => performance.now());
  const claims = {
    callId: `call_pause_${Math.random().toString(36).slice(2, 8)}`,
    tenantId: agent.tenantId,
    agentId: agent.agentId,
    agentVersion: agent.version,
    prefixHash: prefix.hash,
    region: "test-1",
  } as unknown as CallTokenClaims;
  const call = new Call(
    { claims, agent, prefix, transport: "twilio", link, carrier: {} },
    {
      stt,
      llm: llmWithFallback(new FakeLlm([FakeLlm.say(ANSWER), FakeLlm.say("Of course, what is the new address?")]), {
        retries: 0,
      }),
      tts: ttsWithFallback(tts, { fallbackVoice: agent.fallbackVoice }),
      toolRunner: { run: async () => ({ outcomes: [], actions: [] }) },
      sink,
      metrics: env.metrics,
      clock,
      audioCache: env.audioCache,
      logger: env.logger,
      nodeId: "node-direct",
      deadAirMs: 5_000,
      lines: LINES,
    },
  );
  await call.start();
  const voiced = fakeSpeech(160);
  const quiet = new Uint8Array(160).fill(0xff);
  /** One 20 ms frame of the call: the caller's frame in (voiced, quiet, or one given), then the agent's frame out. */
  const frame = async (caller: boolean | Uint8Array) => {
    call.onAudio(caller instanceof Uint8Array ? caller : caller ? voiced : quiet);
    clock.tick();
    await new Promise((r) => setTimeout(r, 20));
  };
  // The caller asks; the agent's answer is synthesized and starts playing.
  stt.emit(FakeStt.final("When are you open?"));
  await until(() => call.reply?.index === 1 && call.reply.endMark !== undefined, "the answer's audio", 5_000);
  for (let i = 0; i < 15; i++) await frame(false);
  expect(link.frames()).toBeGreaterThan(5);
  return { call, stt, link, sink, synthesized, frame };
}

/** The caller's voice over the agent for `frames` frames; how many frames the agent had sent when it paused. */
async function talkOver(s: Awaited<ReturnType<typeof setup>>, frames: number): Promise<number | undefined> {
  let framesAtPause: number | undefined;
  for (let i = 0; i < frames; i++) {
    await s.frame(true);
    if (framesAtPause === undefined && s.call.agentAudio.pacer.paused) framesAtPause = s.link.frames();
  }
  return framesAtPause;
}

test("a back-channel over the answer pauses it at once with no clear, then it resumes and not a byte is lost", async () => {
  const s = await setup();
  // "Uh-huh": 300 ms of the caller's voice over the agent.
  const framesAtPause = await talkOver(s, 15);
  // The VAD needs three voiced frames to call it speech: the pause came within the first few.
  expect(framesAtPause).toBeDefined();
  expect(s.call.agentAudio.pacer.paused).toBe(true);
  expect(s.link.frames()).toBe(framesAtPause);
  s.stt.emit(FakeStt.final("Uh-huh."));
  // The caller is quiet again: within the bound (plus a frame or two of scheduling), playback goes on.
  const quietFrom = performance.now();
  while (s.call.agentAudio.pacer.paused && performance.now() - quietFrom < 2_000) await s.frame(false);
  const resumedAfter = performance.now() - quietFrom;
  expect(s.call.agentAudio.pacer.paused).toBe(false);
  expect(resumedAfter).toBeGreaterThanOrEqual(160);
  expect(resumedAfter).toBeLessThan(1_000);
  expect(s.link.clears()).toBe(0);

  // Play it out: the caller heard exactly what was synthesized, in order, once.
  while (s.call.agentAudio.pacer.queuedBytes > 0) await s.frame(false);
  for (const m of s.link.marks()) s.call.onMark(m);
  await until(() => s.sink.ofType("turn").length === 1, "the turn's record");
  const heard = s.link.frameBytes.slice(0, s.synthesized.length);
  expect(heard).toEqual(s.synthesized);
  // The only bytes past the synthesized ones are the silence padding of the last frame.
  expect(s.link.frameBytes.length - s.synthesized.length).toBeLessThan(160);

  const [turn] = s.sink.ofType("turn");
  expect(turn!.interrupted).toBe(false);
  expect(turn!.assistantText).toBe(ANSWER);
  const w = turn!.waterfall;
  expect(w.pauses).toBe(1);
  expect(w.pausedAt).toBeDefined();
  expect(w.resumedAt).toBeGreaterThan(w.pausedAt!);
  expect(Math.abs(w.pauseToDecisionMs! - (w.resumedAt! - w.pausedAt!))).toBeLessThanOrEqual(1);
  expect(env.metrics.bargeInPauses.get({ outcome: "resumed" })).toBeGreaterThanOrEqual(1);
  s.call.end("caller-hung-up", "test");
});

test("words past the thresholds after the pause: clear, abort, the history cut to what was heard", async () => {
  const s = await setup();
  const clearsBefore = s.link.clears();
  const framesAtPause = await talkOver(s, 6);
  expect(framesAtPause).toBeDefined();
  expect(s.link.clears()).toBe(clearsBefore);
  // The recognizer's words come while the caller goes on talking.
  s.stt.emit(FakeStt.interim("Sorry, wait, I need to change the address"));
  for (let i = 0; i < 14 && s.link.clears() === clearsBefore; i++) await s.frame(true);
  expect(s.link.clears()).toBe(clearsBefore + 1);
  // Nothing left for the caller between the pause and the clear.
  const clearAt = s.link.sent.findIndex((r) => r.type === "clear");
  expect(s.link.sent.slice(0, clearAt).filter((r) => r.type === "frame")).toHaveLength(framesAtPause!);
  expect(s.call.agentAudio.pacer.paused).toBe(false);
  expect(s.call.agentAudio.pacer.queuedBytes).toBe(0);

  await until(() => s.sink.ofType("turn").length === 1, "the interrupted turn's record");
  const [turn] = s.sink.ofType("turn");
  expect(turn!.interrupted).toBe(true);
  expect(turn!.assistantText.length).toBeGreaterThan(0);
  expect(ANSWER.startsWith(turn!.assistantText)).toBe(true);
  expect(turn!.assistantText.length).toBeLessThan(ANSWER.length);
  const w = turn!.waterfall;
  expect(w.pauses).toBe(1);
  expect(w.resumedAt).toBeUndefined();
  expect(w.pauseToDecisionMs).toBeGreaterThan(0);
  expect(env.metrics.bargeInPauses.get({ outcome: "interrupted" })).toBeGreaterThanOrEqual(1);
  s.call.end("caller-hung-up", "test");
});

/** `frame` `lossDb` quieter: the agent's audio as the line's echo path returns it. */
const attenuate = (frame: readonly number[], lossDb: number) =>
  pcm16ToMulaw(Int16Array.from(mulawToPcm16(Uint8Array.from(frame)), (x) => Math.round(x * 10 ** (-lossDb / 20))));

test("the agent's own echo alone never pauses it; on a line that returns little, a caller's soft sound does at once", async () => {
  const s = await setup({ bytesPerChar: 120 });
  // The line returns the agent 20 dB down, 60 ms late, through the rest of the answer.
  const echoOf = (back: number) => {
    const end = s.link.frameBytes.length - back * 160;
    return end < 160 ? new Uint8Array(160).fill(0xff) : attenuate(s.link.frameBytes.slice(end - 160, end), 20);
  };
  for (let i = 0; i < 60; i++) {
    await s.frame(echoOf(3));
    expect(s.call.agentAudio.pacer.paused).toBe(false);
  }
  expect(s.call.agentAudio.pacer.queuedBytes).toBeGreaterThan(0);
  s.call.end("caller-hung-up", "test");

  // Another line, with no echo: once a second of the agent has shown it, a sound 26 dB under the agent pauses it
  // on its third frame (with the cautious 15 dB ceiling it would not count at all).
  const t = await setup({ bytesPerChar: 120 });
  for (let i = 0; i < 60; i++) await t.frame(false);
  const softFrame = attenuate([...fakeSpeech(160)], 26);
  let framesToPause = 0;
  while (!t.call.agentAudio.pacer.paused && framesToPause < 10) {
    await t.frame(softFrame);
    framesToPause += 1;
  }
  expect(framesToPause).toBe(3);
  t.call.end("caller-hung-up", "test");
});

test("the caller's own first words over the agent (Flux's start of turn) hold the pause through the gap after them", async () => {
  const s = await setup();
  const framesAtPause = await talkOver(s, 10);
  expect(framesAtPause).toBeDefined();
  // "Sorry," — then a gap longer than the back-channel bound (160 ms here): the agent stays paused.
  s.stt.emit({ type: "turn-started", turnIndex: 0, text: "Sorry,", timestamp: 0 });
  for (let i = 0; i < 12; i++) await s.frame(false);
  expect(s.call.agentAudio.pacer.paused).toBe(true);
  expect(s.link.frames()).toBe(framesAtPause);
  // "… wait, I need to change the address": the words pass the thresholds, and nothing was sent since the pause.
  s.stt.emit(FakeStt.interim("Sorry, wait, I need to change the address"));
  for (let i = 0; i < 20 && s.link.clears() === 0; i++) await s.frame(true);
  expect(s.link.clears()).toBe(1);
  const clearAt = s.link.sent.findIndex((r) => r.type === "clear");
  expect(s.link.sent.slice(0, clearAt).filter((r) => r.type === "frame")).toHaveLength(framesAtPause!);
  s.call.end("caller-hung-up", "test");
});

// The pause's own rules, with a stand-in for the agent's audio.

function pauseRig(audible = true) {
  const audio = {
    paused: false,
    audible: () => audible,
    pause: () => {
      audio.paused = true;
    },
    resume: () => {
      audio.paused = false;
    },
  };
  const records: PauseRecord[] = [];
  const pause = new BargeInPause(
    audio,
    { resumeAfterQuietMs: 160, resumeAfterWordsQuietMs: 450, maxPauseMs: 1_000 },
    (r) => records.push(r),
  );
  return { audio, records, pause };
}

test("onset pauses only an audible agent; renewed speech after a resume pauses again; past the bound it does not", () => {
  const quietAgent = pauseRig(false);
  expect(quietAgent.pause.onset(0)).toBe(false);
  expect(quietAgent.audio.paused).toBe(false);

  const { audio, records, pause } = pauseRig();
  expect(pause.onset(0)).toBe(true);
  for (let t = 20; t <= 200; t += 20) pause.onCallerFrame(t, true, true);
  pause.tick(300);
  expect(audio.paused).toBe(true);
  // Quiet from 200: resumed at 360, not before.
  for (let t = 220; t < 360; t += 20) {
    pause.onCallerFrame(t, false, true);
    pause.tick(t);
  }
  expect(audio.paused).toBe(true);
  pause.tick(360);
  expect(audio.paused).toBe(false);
  expect(records).toEqual([{ pausedAt: 0, decidedAt: 360, outcome: "resumed" }]);
  // The caller goes on within the VAD's hangover (no new onset event): two voiced frames pause again.
  pause.onCallerFrame(380, true, true);
  expect(audio.paused).toBe(false);
  pause.onCallerFrame(400, true, true);
  expect(audio.paused).toBe(true);
  // Sound that never stops and never passes the thresholds: resumed at the bound, and not paused again on it.
  for (let t = 420; t <= 1_400; t += 20) {
    pause.onCallerFrame(t, true, true);
    pause.tick(t);
  }
  expect(audio.paused).toBe(false);
  expect(records.at(-1)).toEqual({ pausedAt: 400, decidedAt: 1_400, outcome: "resumed" });
  // A new utterance (the VAD ended the last one) pauses again on its onset.
  pause.onCallerFrame(1_420, false, false);
  expect(pause.onset(1_500)).toBe(true);
  pause.settle(1_700, "interrupted");
  expect(records.at(-1)).toEqual({ pausedAt: 1_500, decidedAt: 1_700, outcome: "interrupted" });
  expect(pause.paused).toBe(false);
});
