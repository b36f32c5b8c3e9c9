// Caller audio to speech recognition: every frame at once while the caller speaks and while the
// recognizer's end-of-utterance answers are due; in longer silence, 100 ms chunks (fewer messages per
// call). No byte is lost, reordered or held back when speech starts.
import { expect, test } from "vitest";
import { SttFeed } from "../../../media-nodes/src/pipeline/stt-feed.ts";
import type { SttSession } from "../../../media-nodes/src/providers/types.ts";

function recordingStt() {
  const sent: Uint8Array[] = [];
  const stt: SttSession = {
    sendAudio: (audio) => sent.push(audio.slice()),
    finalize: () => {},
    turnDetection: "endpointing",
    configure: async () => null,
    close: async () => {},
  };
  return { stt, sent };
}

const frameOf = (n: number) => new Uint8Array(160).fill(n & 0xff);

test("while speech is recent each frame goes out alone; in long silence five frames make one message", () => {
  const { stt, sent } = recordingStt();
  const feed = new SttFeed({ promptWindowMs: 1_500 });
  // The caller spoke at t=0; frames within 1.5 s of that go out one by one.
  for (let t = 20; t <= 1_500; t += 20) feed.push(stt, frameOf(t / 20), t, 0);
  expect(sent).toHaveLength(75);
  expect(sent.every((m) => m.length === 160)).toBe(true);
  // Later silence: batched.
  sent.length = 0;
  for (let t = 1_520; t < 1_520 + 20 * 10; t += 20) feed.push(stt, frameOf(t / 20), t, 0);
  expect(sent.map((m) => m.length)).toEqual([800, 800]);
  expect(feed.pendingBytes).toBe(0);
});

test("the first voiced frame sends the silence held back before it, in order, then itself", () => {
  const { stt, sent } = recordingStt();
  const feed = new SttFeed({ promptWindowMs: 1_500 });
  const lastVoiced = Number.NEGATIVE_INFINITY;
  for (let i = 1; i <= 3; i++) feed.push(stt, frameOf(i), i * 20, lastVoiced);
  expect(sent).toHaveLength(0);
  expect(feed.pendingBytes).toBe(480);
  // Frame 4 is speech: the VAD's last voiced time is now.
  feed.push(stt, frameOf(4), 80, 80);
  expect(sent.map((m) => m.length)).toEqual([480, 160]);
  expect([...sent[0]!.subarray(0, 160)].every((b) => b === 1)).toBe(true);
  expect([...sent[0]!.subarray(320)].every((b) => b === 3)).toBe(true);
  expect(sent[1]![0]).toBe(4);
});

test("audio held back is sent on flush, and dropped (as before) while there is no session", () => {
  const { stt, sent } = recordingStt();
  const feed = new SttFeed({ promptWindowMs: 1_500 });
  feed.push(stt, frameOf(1), 5_000, 0);
  feed.push(stt, frameOf(2), 5_020, 0);
  feed.flush(stt);
  expect(sent.map((m) => [m.length, m[0], m[319]])).toEqual([[320, 1, 2]]);
  feed.push(stt, frameOf(3), 5_040, 0);
  feed.push(undefined, frameOf(4), 5_060, 0);
  expect(feed.pendingBytes).toBe(0);
  feed.flush(stt);
  expect(sent).toHaveLength(1);
});
