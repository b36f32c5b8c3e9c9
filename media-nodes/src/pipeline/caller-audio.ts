// The caller's audio on its way in: one ordered buffer for what arrives before the call has started (while
// admission runs and the providers open), the VAD, and the feed to a speech recognizer kept alive by
// sttWithRecovery (providers/fallback.ts). Every frame is judged at its arrival time, including buffered ones
// replayed later, so speech onsets and ends keep their real times.
import type { ResilientSttSession } from "../providers/fallback.ts";
import { SttFeed } from "./stt-feed.ts";
import { EnergyVad } from "./vad.ts";

/** Caller audio kept before the call starts: 2 s of 20 ms frames. Later frames are dropped and counted. */
export const PRE_START_FRAMES = 100;

/**
 * Frames that arrived before the call could take them, in arrival order, with their arrival times. One per
 * connection: the server fills it while admission runs, and the call goes on filling it until its providers
 * are open, then replays it.
 */
export class PreStartBuffer {
  readonly #frames: Uint8Array[] = [];
  readonly #times: number[] = [];
  dropped = 0;

  constructor(readonly capacity = PRE_START_FRAMES) {}

  get length(): number {
    return this.#frames.length;
  }

  /** `frame` may be reused by the caller: it is copied. */
  push(frame: Uint8Array, arrivedAt: number): void {
    if (this.#frames.length >= this.capacity) {
      this.dropped += 1;
      return;
    }
    this.#frames.push(frame.slice());
    this.#times.push(arrivedAt);
  }

  /** Hands every frame over in order, and empties the buffer. */
  drain(to: (frame: Uint8Array, arrivedAt: number) => void): void {
    for (let i = 0; i < this.#frames.length; i++) to(this.#frames[i]!, this.#times[i]!);
    this.#frames.length = 0;
    this.#times.length = 0;
  }
}

export interface CallerAudioOptions {
  /** Until the recognizer's end-of-utterance answers can have come, caller audio is not batched. */
  promptWindowMs: number;
  /** Each frame after the VAD: turn detection reads the verdict (arrival time, speaking). */
  onFrame(now: number, speaking: boolean): void;
  preStart?: PreStartBuffer;
}

export class CallerAudio {
  readonly vad = new EnergyVad();
  readonly feed: SttFeed;
  readonly preStart: PreStartBuffer;
  #stt: ResilientSttSession | undefined;
  #live = false;
  readonly #onFrame: (now: number, speaking: boolean) => void;

  constructor(opts: CallerAudioOptions) {
    this.feed = new SttFeed({ promptWindowMs: opts.promptWindowMs });
    this.preStart = opts.preStart ?? new PreStartBuffer();
    this.#onFrame = opts.onFrame;
  }

  get stt(): ResilientSttSession | undefined {
    return this.#stt;
  }

  get speaking(): boolean {
    return this.vad.speaking;
  }

  /** The recognizer is open: what waited is replayed in order, at its arrival times, and live audio follows. */
  start(stt: ResilientSttSession): void {
    this.#stt = stt;
    this.#live = true;
    this.preStart.drain(this.#process);
  }

  /** One frame from the caller. `frame` may be reused by the caller once this returns. */
  push(frame: Uint8Array, now: number): void {
    if (this.#live) this.#process(frame, now);
    else this.preStart.push(frame, now);
  }

  readonly #process = (frame: Uint8Array, now: number): void => {
    const speaking = this.vad.process(frame, now);
    const stt = this.#stt;
    this.feed.push(stt, frame, now, this.vad.lastVoicedAt);
    stt?.heard(now, speaking, frame.length / 8);
    this.#onFrame(now, speaking);
  };

  /** The recognizer is gone for good (the call is ending): held-back audio goes first. */
  close(): ResilientSttSession | undefined {
    const stt = this.#stt;
    this.#stt = undefined;
    this.#live = false;
    this.feed.flush(stt);
    return stt;
  }
}
