// The caller's audio on its way to speech to text. Every message to the recognizer costs a WebSocket
// frame and a socket write on the node, and the carrier hands us one 20 ms frame at a time: sent one by
// one, the recognizer's socket is the node's busiest. The recognizer accepts any chunking, but its
// answers are only as early as the audio that produces them, so this batches only where no answer is
// waiting: while the caller speaks and until the recognizer's end-of-utterance windows have passed
// (endpointing, utterance end) every frame goes out at once; in longer silence frames go out in 100 ms
// chunks, five times fewer messages. The first voiced frame sends the batch ahead of it, so the start of
// speech is never held back.
import type { SttSession } from "../providers/types.ts";

export interface SttFeedOptions {
  /** Silence is sent in chunks of this many bytes (800 = 100 ms of μ-law 8 kHz). */
  batchBytes?: number;
  /** Frames within this long after the last voiced frame go out at once. */
  promptWindowMs: number;
}

export class SttFeed {
  readonly #batch: Uint8Array;
  readonly #promptWindowMs: number;
  #length = 0;
  /** Messages sent, and frames that went out in a batch rather than alone (for stats and tests). */
  sends = 0;
  batchedFrames = 0;

  constructor(opts: SttFeedOptions) {
    this.#batch = new Uint8Array(opts.batchBytes ?? 800);
    this.#promptWindowMs = opts.promptWindowMs;
  }

  /** Bytes held back, not yet sent. */
  get pendingBytes(): number {
    return this.#length;
  }

  /** `frame` may be reused by the caller once this returns (the batch copies, sessions copy). */
  push(stt: SttSession | undefined, frame: Uint8Array, now: number, lastVoicedAt: number): void {
    if (!stt) {
      // No session (reconnecting, ended): audio is dropped now as it always was, batch included.
      this.#length = 0;
      return;
    }
    if (now - lastVoicedAt <= this.#promptWindowMs || frame.length > this.#batch.length) {
      this.flush(stt);
      stt.sendAudio(frame);
      this.sends += 1;
      return;
    }
    if (this.#length + frame.length > this.#batch.length) this.flush(stt);
    this.#batch.set(frame, this.#length);
    this.#length += frame.length;
    this.batchedFrames += 1;
    if (this.#length === this.#batch.length) this.flush(stt);
  }

  /** Sends whatever is held back (before Finalize or close, or when speech starts). */
  flush(stt: SttSession | undefined): void {
    if (this.#length === 0) return;
    // A full batch (the usual case) goes as it is: no view object for it.
    const batch = this.#batch;
    stt?.sendAudio(this.#length === batch.length ? batch : batch.subarray(0, this.#length));
    if (stt) this.sends += 1;
    this.#length = 0;
  }
}
