// Caller audio, constructed directly with a recording recognizer: what arrived before the call started (while
// admission ran, then while the providers opened) is one buffer, replayed in arrival order ahead of live
// audio, and the VAD judges each frame at the time it arrived, not when it was replayed.
import { expect, test } from "vitest";
import { CallerAudio, PreStartBuffer } from "../../../../media-nodes/src/pipeline/caller-audio.ts";
import { fakeSpeech } from "../../../../media-nodes/src/providers/fake/tts.ts";
import type { ResilientSttSession } from "../../../../media-nodes/src/providers/fallback.ts";

class RecordingStt implements ResilientSttSession {
  readonly turnDetection = "endpointing" as const;
  async configure() {
    return null;
  }
  readonly chunks: number[][] = [];
  readonly heardAt: { now: number; voiced: boolean }[] = [];
  sendAudio(audio: Uint8Array): void {
    this.chunks.push([...audio.subarray(0, 1)]);
  }
  heard(now: number, voiced: boolean): void {
    this.heardAt.push({ now, voiced });
  }
  finalize(): void {}
  async close(): Promise<void> {}
}

const frame = (tag: number) => new Uint8Array(160).fill(tag);

test("frames buffered during admission and during provider open reach the recognizer once, in arrival order", () => {
  // The connection's buffer, filled while admission ran...
  const preStart = new PreStartBuffer();
  preStart.push(frame(1), 0);
  preStart.push(frame(2), 20);
  const frames: number[] = [];
  const audio = new CallerAudio({ promptWindowMs: 1_500, onFrame: () => {}, preStart });
  // ...goes on filling inside the call while its providers open.
  audio.push(frame(3), 40);
  audio.push(frame(4), 60);
  const stt = new RecordingStt();
  audio.start(stt);
  audio.push(frame(5), 80);
  for (const c of stt.chunks) frames.push(c[0]!);
  expect(frames).toEqual([1, 2, 3, 4, 5]);
  expect(stt.heardAt.map((h) => h.now)).toEqual([0, 20, 40, 60, 80]);
  expect(preStart.length).toBe(0);
});

test("a caller who spoke before the call started has their speech onset at the time they spoke", () => {
  const speech = fakeSpeech(160 * 10);
  const onsets: number[] = [];
  let was = false;
  const audio = new CallerAudio({
    promptWindowMs: 1_500,
    onFrame: (now, speaking) => {
      if (speaking && !was) onsets.push(now);
      was = speaking;
    },
  });
  for (let i = 0; i < 10; i++) audio.push(speech.subarray(i * 160, (i + 1) * 160), 1_000 + i * 20);
  // Replayed much later, all at once.
  audio.start(new RecordingStt());
  expect(onsets).toEqual([1_040]);
  expect(audio.vad.lastVoicedAt).toBe(1_180);
});

test("past its capacity the pre-start buffer drops later frames and counts them", () => {
  const buffer = new PreStartBuffer(3);
  for (let i = 0; i < 5; i++) buffer.push(frame(i), i * 20);
  expect(buffer.length).toBe(3);
  expect(buffer.dropped).toBe(2);
  const seen: number[] = [];
  buffer.drain((f) => seen.push(f[0]!));
  expect(seen).toEqual([0, 1, 2]);
});

test("a buffered frame is a copy: the transport may reuse its buffer", () => {
  const buffer = new PreStartBuffer();
  const reused = frame(7);
  buffer.push(reused, 0);
  reused.fill(9);
  buffer.drain((f) => expect(f[0]).toBe(7));
});
