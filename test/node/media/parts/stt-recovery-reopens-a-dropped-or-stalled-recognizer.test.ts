// The STT recovery decorator, around a scripted recognizer that drops or stalls. A stall is the caller speaking
// and nothing coming back: it is noticed, a fresh session opens, the audio no final confirmed is replayed into
// it, and its word times stay on the call's clock. A cough that gets no answer is not a stall.
import { expect, test } from "vitest";
import { FakeStt } from "../../../../media-nodes/src/providers/fake/index.ts";
import { sttWithRecovery } from "../../../../media-nodes/src/providers/fallback.ts";
import type { SttEvent, SttOptions } from "../../../../media-nodes/src/providers/types.ts";

const OPTIONS: SttOptions = {
  encoding: "mulaw",
  sampleRate: 8_000,
  language: "en",
  endpointingMs: 300,
  utteranceEndMs: 1000,
};
const FRAME = new Uint8Array(160).fill(0x10);

async function open(opts: { reopens?: number } = {}) {
  const fake = new FakeStt();
  const recoveries: { cause: string; reason: string }[] = [];
  const events: SttEvent[] = [];
  const stt = sttWithRecovery(fake, { ...opts, onRecover: (info) => recoveries.push(info) });
  const session = await stt.open(OPTIONS, (e) => events.push(e));
  let t = 0;
  /** `ms` of caller audio, voiced or not, 20 ms a frame; the clock is the audio's. */
  const audio = (ms: number, voiced: boolean) => {
    for (let i = 0; i < ms / 20; i++) {
      session.sendAudio(FRAME);
      t += 20;
      session.heard(t, voiced, 20);
    }
  };
  return { fake, session, recoveries, events, audio, now: () => t };
}

const settle = () => new Promise((r) => setTimeout(r, 5));

test("speech with no result for 2 s is a stall: a fresh session gets the unconfirmed audio, and times stay on the call's clock", async () => {
  const { fake, recoveries, events, audio } = await open();
  // A first sentence, answered: its final confirms the audio up to 0.9 s.
  audio(1_000, true);
  fake.sessions[0]!.emit({ ...FakeStt.final("Hi there.", { startSec: 0.3 }) });
  // Then the recognizer goes quiet while the caller says another sentence and stops.
  audio(1_500, true);
  audio(480, false);
  // 1.96 s since the unanswered speech began: not yet.
  expect(recoveries).toEqual([]);
  audio(60, false);
  expect(recoveries).toMatchObject([{ cause: "stall" }]);
  await settle();
  expect(fake.sessions).toHaveLength(2);
  expect(fake.sessions[0]!.closed).toBe(true);
  // Replayed: from the end of the confirmed words (0.3 s + "Hi there." = 0.85 s) to now.
  const confirmedBytes = Math.round(0.85 * 8_000);
  const replayed = fake.sessions[1]!.audioBytes;
  expect(replayed).toBe(3_040 * 8 - confirmedBytes);
  // The fresh session's word times start at the replay: shifted back onto the call's clock.
  fake.sessions[1]!.emit(FakeStt.final("I need a repair.", { startSec: 0.2 }));
  const last = events.at(-1) as Extract<SttEvent, { type: "final" }>;
  expect(last.text).toBe("I need a repair.");
  expect(last.words[0]!.start).toBeCloseTo(0.85 + 0.2, 5);
});

test("a caller who keeps talking into a silent recognizer is noticed at the latest 4 s in", async () => {
  const { fake, recoveries, audio } = await open();
  audio(3_900, true);
  expect(recoveries).toEqual([]);
  audio(200, true);
  expect(recoveries).toMatchObject([{ cause: "stall" }]);
  await settle();
  expect(fake.sessions).toHaveLength(2);
  // The ring keeps the last 3 s: that is what the fresh session hears.
  expect(fake.sessions[1]!.audioBytes).toBe(3_000 * 8);
});

test("a cough the recognizer rightly ignores is not a stall", async () => {
  const { recoveries, audio } = await open();
  audio(300, true);
  audio(6_000, false);
  expect(recoveries).toEqual([]);
});

test("a dropped session is reopened with the replay; when reopens run out, the call hears the session closed", async () => {
  const { fake, recoveries, events, audio } = await open({ reopens: 1 });
  audio(500, true);
  fake.sessions[0]!.emit({ type: "closed", code: 1006, reason: "socket hang up" });
  expect(recoveries).toMatchObject([{ cause: "drop", reason: "1006 socket hang up" }]);
  await settle();
  expect(fake.sessions[1]!.audioBytes).toBe(500 * 8);
  // Audio during and after the reopen reaches the fresh session.
  audio(100, true);
  expect(fake.sessions[1]!.audioBytes).toBe(600 * 8);
  fake.sessions[1]!.emit({ type: "closed", code: 1011, reason: "gone again" });
  expect(events.at(-1)).toEqual({ type: "closed", code: 1011, reason: "gone again" });
});

test("with semantic turns (Flux), a fresh session continues the call's turn count and keeps the live thresholds", async () => {
  const fake = new FakeStt({ semantic: true });
  const events: SttEvent[] = [];
  const session = await sttWithRecovery(fake).open(OPTIONS, (e) => events.push(e));
  expect(session.turnDetection).toBe("semantic");
  await session.configure({ eotThreshold: 0.85 });
  const inner = fake.sessions[0]!;
  inner.emit({ type: "turn-started", turnIndex: 0, text: "", timestamp: 0.1 });
  inner.emit({
    type: "turn-ended",
    turnIndex: 0,
    text: "Hi.",
    words: FakeStt.words("Hi.", 0.1),
    confidence: 0.9,
    trigger: "model",
  });
  inner.emit({ type: "turn-started", turnIndex: 1, text: "", timestamp: 2 });
  // The socket dies mid-turn: the fresh session's turn 0 is the call's turn 1, still open.
  inner.emit({ type: "closed", code: 1006, reason: "cut" });
  await settle();
  const fresh = fake.sessions[1]!;
  expect(fresh.configured).toEqual([{ eotThreshold: 0.85 }]);
  fresh.emit({ type: "turn-started", turnIndex: 0, text: "", timestamp: 0 });
  fresh.emit({
    type: "turn-ended",
    turnIndex: 0,
    text: "Book me in.",
    words: FakeStt.words("Book me in."),
    confidence: 0.9,
    trigger: "model",
  });
  expect(events.filter((e) => "turnIndex" in e).map((e) => ("turnIndex" in e ? [e.type, e.turnIndex] : []))).toEqual([
    ["turn-started", 0],
    ["turn-ended", 0],
    ["turn-started", 1],
    ["turn-started", 1],
    ["turn-ended", 1],
  ]);
});
