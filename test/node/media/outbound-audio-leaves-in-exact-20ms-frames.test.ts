// Outbound audio: exact 160-byte frames on a drift-free 20 ms schedule shared by all calls, marks at the
// byte where each clause ends, bounded buffering, and a slow reader loses only its own call.
import { afterEach, expect, test } from "vitest";
import { FrameClock } from "../../../media-nodes/src/pipeline/frame-clock.ts";
import { OutboundPacer, type PacerLink } from "../../../media-nodes/src/pipeline/pacer.ts";
import { FakeLlm, FakeStt } from "../../../media-nodes/src/providers/fake/index.ts";
import { type Harness, startHarness, until } from "./support/harness.ts";
import { TwilioTestClient } from "./support/twilio-client.ts";

function recordingLink(buffered = () => 0) {
  const sent: { frame?: Uint8Array; marks: string[] }[] = [];
  const link: PacerLink = {
    sendFrame: (frame, marks) => {
      sent.push({ frame: frame.slice(), marks: [...marks] });
      return "sent";
    },
    sendMarks: (marks) => {
      sent.push({ marks: [...marks] });
    },
    bufferedAmount: buffered,
  };
  return { link, sent };
}

test("frames are exactly 160 bytes, the tail padded with silence, marks right after their audio", () => {
  const { link, sent } = recordingLink();
  const pacer = new OutboundPacer({ link });
  pacer.enqueue(new Uint8Array(300).fill(1));
  pacer.mark("first", 300);
  pacer.enqueue(new Uint8Array(200).fill(2));
  pacer.mark("second");
  pacer.endOfInput();
  for (let t = 0; t < 6; t++) pacer.onTick(t * 20, t * 20);
  const frames = sent.filter((s) => s.frame);
  expect(frames.map((f) => f.frame!.length)).toEqual([160, 160, 160, 160]);
  expect(frames[1]!.frame!.slice(140, 160)).toEqual(new Uint8Array(20).fill(2)); // byte 300 onwards is the next clause
  expect(frames[3]!.frame!.slice(20)).toEqual(new Uint8Array(140).fill(0xff)); // 500 bytes → tail is silence
  expect(frames.map((f) => f.marks)).toEqual([[], ["first"], [], ["second"]]);
  expect(pacer.sentBytes).toBe(500);
});

test("a short tail waits briefly for more audio instead of padding mid-sentence", () => {
  const { link, sent } = recordingLink();
  const pacer = new OutboundPacer({ link });
  pacer.enqueue(new Uint8Array(100).fill(3));
  pacer.onTick(0, 0);
  expect(sent).toHaveLength(0);
  pacer.enqueue(new Uint8Array(60).fill(4));
  pacer.onTick(20, 20);
  expect(sent[0]!.frame!.slice(95, 105)).toEqual(new Uint8Array([3, 3, 3, 3, 3, 4, 4, 4, 4, 4]));
});

test("clear drops queued audio and reports marks that will never be reached", () => {
  const { link, sent } = recordingLink();
  const pacer = new OutboundPacer({ link });
  pacer.enqueue(new Uint8Array(1600));
  pacer.mark("clause-1", 800);
  pacer.mark("clause-2");
  pacer.onTick(0, 0);
  expect(pacer.clear()).toEqual(["clause-1", "clause-2"]);
  pacer.onTick(20, 20);
  expect(sent.filter((s) => s.frame)).toHaveLength(1);
  expect(pacer.queuedBytes).toBe(0);
});

test("a reader that stops reading is held back, then reported as a slow consumer", () => {
  let buffered = 0;
  const { link, sent } = recordingLink(() => buffered);
  let slow = 0;
  const pacer = new OutboundPacer({ link, slowConsumerMs: 1_000, onSlowConsumer: () => slow++ });
  pacer.enqueue(new Uint8Array(160 * 200));
  pacer.onTick(0, 0);
  buffered = 1_000_000;
  for (let t = 1; t <= 80; t++) pacer.onTick(t * 20, t * 20);
  expect(sent).toHaveLength(1); // nothing more was pushed into a full socket
  expect(slow).toBeGreaterThan(0);
  // Queued audio is bounded: far more than two minutes of TTS is refused, not buffered.
  const bounded = new OutboundPacer({ link: recordingLink().link, maxQueuedBytes: 8_000 });
  bounded.enqueue(new Uint8Array(6_000));
  bounded.enqueue(new Uint8Array(6_000));
  expect(bounded.queuedBytes).toBe(6_000);
  expect(bounded.droppedBytes).toBe(6_000);
});

test("one clock paces every call on a drift-free 20 ms grid, spread across slots", async () => {
  const clock = new FrameClock();
  const ticks: number[][] = [[], [], [], []];
  const clients = ticks.map((list) => ({ onTick: (due: number) => list.push(due) }));
  for (const c of clients) clock.add(c);
  await new Promise((r) => setTimeout(r, 450));
  for (const c of clients) clock.remove(c);
  for (const list of ticks) {
    expect(list.length).toBeGreaterThanOrEqual(15);
    // Due times are exactly 20 ms apart: lateness never shifts the schedule.
    for (let i = 1; i < list.length; i++) expect(list[i]! - list[i - 1]!).toBeCloseTo(20, 6);
  }
  // Four calls sit in four different slots of the 20 ms period.
  const phases = new Set(ticks.map((list) => Math.round((list[0]! - ticks[0]![0]!) % 20)));
  expect(phases.size).toBe(4);
});

let h: Harness | undefined;
afterEach(async () => h?.close());

test("a Twilio caller receives 160-byte frames in real time with a mark after each clause", async () => {
  h = await startHarness({
    llm: [FakeLlm.say("First we check the tyres, then we check the brakes, and then you are good to go.")],
    tts: { bytesPerChar: 40 },
  });
  const caller = await TwilioTestClient.connect(h.wsUrl());
  caller.start(await h.token());
  await until(() => h!.stt.current !== undefined, "the call to start");
  h.stt.emit(FakeStt.final("What does a service include?"));
  await until(() => h!.sink.ofType("turn").length === 1, "the reply to play out", 15_000);
  const media = caller.events("media");
  expect(media.length).toBeGreaterThan(10);
  for (const m of media) expect(Buffer.from(m.payload!, "base64").length).toBe(160);
  // Paced, not dumped: the frames span (almost) their own play time.
  const span = media.at(-1)!.at - media[0]!.at;
  expect(span).toBeGreaterThan((media.length - 1) * 20 * 0.7);
  // One mark per clause plus the end of the turn, each echoed after its audio played.
  const marks = caller.events("mark").map((m) => m.name);
  expect(marks.filter((n) => /^t1c\d+$/.test(n!)).length).toBeGreaterThanOrEqual(2);
  expect(marks.at(-1)).toBe("t1end");
  const stats = h.node.stats();
  expect(stats.framesSent).toBeGreaterThanOrEqual(media.length);
  await caller.hangUp();
});
