// Agent audio and the one interruption path, constructed directly: a scripted TTS, a link that records what
// the carrier would get, a clock the test ticks. The caller hears exact frames with a mark after each clause;
// an interruption sends `clear` before anything else happens, then stops the reply, then cuts the history to
// what was heard.
import { afterAll, expect, test } from "vitest";
import { AgentAudio } from "../../../../media-nodes/src/pipeline/agent-audio.ts";
import { History } from "../../../../media-nodes/src/pipeline/history.ts";
import { interrupt } from "../../../../media-nodes/src/pipeline/interruption.ts";
import { Reply } from "../../../../media-nodes/src/pipeline/reply.ts";
import { FakeTts } from "../../../../media-nodes/src/providers/fake/index.ts";
import { ManualClock, partsEnv, RecordingLink, until } from "../support/parts.ts";

const env = partsEnv();
afterAll(() => env.close());

async function setup() {
  const link = new RecordingLink();
  const clock = new ManualClock();
  const played: Reply[] = [];
  const audio = new AgentAudio({
    link,
    metrics: env.metrics,
    audioCache: env.audioCache,
    clock,
    voice: "aura-2-thalia-en",
    onFrame: () => {},
    onTick: () => {},
    onPlayed: (r) => {
      // As the call does: the reply is played, and settles.
      played.push(r);
      r.played();
    },
    onGoodbyePlayed: () => {},
    onSlowConsumer: () => {},
  });
  const tts = await new FakeTts({ bytesPerChar: 40, firstByteMs: 0 }).open(
    { voice: "aura-2-thalia-en", encoding: "mulaw", sampleRate: 8_000 },
    (e) => audio.onTtsEvent(e),
  );
  audio.attach(tts);
  const history = new History();
  const reply = new Reply(1, "When are you open?");
  history.beginReply(reply, reply.userText);
  audio.begin(reply);
  return { link, clock, audio, history, reply, played };
}

const CLAUSES = ["We open at nine on weekdays.", "On weekends we open at ten.", "Holidays vary."];

async function speakAll(s: Awaited<ReturnType<typeof setup>>) {
  for (const [i, text] of CLAUSES.entries()) s.audio.speak(s.reply, 0, text, i === 0);
  s.reply.generated.push(CLAUSES.join(" "));
  s.history.appendAssistant([{ type: "text", text: CLAUSES.join(" ") }]);
  s.reply.finishGenerating();
  s.audio.endReply(s.reply);
  await until(() => s.reply.endMark !== undefined, "all the reply's audio to be in");
}

test("clauses leave as 160-byte frames with a mark after each, and the end mark makes the reply played", async () => {
  const s = await setup();
  await speakAll(s);
  const bytes = CLAUSES.join("").length * 40;
  s.clock.tick(Math.ceil(bytes / 160) + 2);
  expect(s.link.frames()).toBe(Math.ceil(bytes / 160));
  const marks = s.link.marks();
  expect(marks).toHaveLength(CLAUSES.length + 1);
  expect(marks.at(-1)).toBe("t1end");
  for (const m of marks) s.audio.onMark(m);
  expect(s.played).toEqual([s.reply]);
  expect(s.audio.audible(performance.now())).toBe(false);
});

test("an interruption: clear first, then the reply stops, then the history keeps only what was heard", async () => {
  const s = await setup();
  await speakAll(s);
  // The first clause and about half of the second have played; the carrier echoed the first mark.
  const first = CLAUSES[0]!.length * 40;
  const second = CLAUSES[1]!.length * 40;
  s.clock.tick(Math.ceil((first + second / 2) / 160));
  const echoed = s.link.marks()[0]!;
  s.audio.onMark(echoed);
  let atClear: { aborted: boolean; history: string } | undefined;
  s.link.onClear = () => {
    const last = s.history.messages.at(-1)!;
    atClear = {
      aborted: s.reply.signal.aborted,
      history: last.content.map((c) => ("text" in c ? c.text : "")).join(""),
    };
  };
  const result = interrupt(
    { audio: s.audio, history: s.history, reply: s.reply },
    { reason: "barge-in", detectedAt: performance.now() },
  );
  expect(result.audible).toBe(true);
  expect(atClear).toEqual({ aborted: false, history: CLAUSES.join(" ") });
  expect(s.reply.state).toBe("interrupted");
  expect(s.reply.signal.aborted).toBe(true);
  expect(s.reply.clearDelayMs).toBeLessThan(20);
  const heard = s.reply.heard?.get(0) ?? "";
  expect(heard.startsWith(CLAUSES[0]!)).toBe(true);
  expect(heard.length).toBeLessThan(CLAUSES.join(" ").length);
  expect(s.history.messages.at(-1)).toEqual({ role: "assistant", content: [{ type: "text", text: heard }] });
  // Nothing more goes out.
  const framesBefore = s.link.frames();
  s.clock.tick(20);
  expect(s.link.frames()).toBe(framesBefore);
  expect(s.audio.pacer.queuedBytes).toBe(0);
});

test("a carrier that never echoes marks: the reply counts as played 1.5 s after its last frame", async () => {
  const s = await setup();
  await speakAll(s);
  s.clock.tick(Math.ceil((CLAUSES.join("").length * 40) / 160));
  expect(s.played).toEqual([]);
  s.clock.tick(70);
  expect(s.played).toEqual([]);
  s.clock.tick(10);
  expect(s.played).toEqual([s.reply]);
});

test("pause holds the audio where it is and resume goes on with nothing lost", async () => {
  const s = await setup();
  await speakAll(s);
  const total = Math.ceil((CLAUSES.join("").length * 40) / 160);
  s.clock.tick(5);
  const before = s.link.frames();
  s.audio.pause();
  s.clock.tick(50);
  expect(s.link.frames()).toBe(before);
  expect(s.audio.audible(performance.now())).toBe(true);
  s.audio.resume();
  s.clock.tick(total);
  expect(s.link.frames()).toBe(total);
});
