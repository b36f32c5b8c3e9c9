// Caller audio a live-transcription session keeps until the vendor has covered it with a result, so a dropped
// socket can be reopened and given the audio again (the Deepgram sessions' resend log), and what STT recovery
// replays into a fresh session.

/**
 * Audio kept for resending, in append-only blocks of about a second. One frame at a time into a list of
 * small copies would be an ArrayBuffer per 20 ms per call, each living until the next final: that is
 * what kept the young generation full and pushed audio into the old one. Blocks are never written twice,
 * so a view handed to the socket stays valid however long the socket holds it.
 */
export class AudioLog {
  readonly #blockBytes: number;
  #blocks: { start: number; data: Uint8Array; used: number }[] = [];
  /** Absolute offset of the oldest byte kept. */
  #from = 0;
  /** Absolute bytes appended since the session began. */
  total = 0;

  constructor(blockBytes: number) {
    this.#blockBytes = blockBytes;
  }

  /** Copies `audio` in and returns the stored copy. */
  append(audio: Uint8Array): Uint8Array {
    let block = this.#blocks.at(-1);
    if (!block || block.used + audio.length > block.data.length) {
      block = { start: this.total, data: new Uint8Array(Math.max(this.#blockBytes, audio.length)), used: 0 };
      this.#blocks.push(block);
    }
    const at = block.used;
    block.data.set(audio, at);
    block.used += audio.length;
    this.total += audio.length;
    return block.data.subarray(at, block.used);
  }

  /** Forgets audio before an absolute offset; blocks are released once wholly before it. */
  dropBefore(absolute: number): void {
    this.#from = Math.max(this.#from, Math.min(absolute, this.total));
    while (this.#blocks.length > 0) {
      const first = this.#blocks[0]!;
      if (first.start + first.used > this.#from) break;
      this.#blocks.shift();
    }
  }

  /** What is kept, oldest first, as views of the blocks. */
  *chunks(): Generator<Uint8Array> {
    for (const block of this.#blocks) {
      const from = Math.max(0, this.#from - block.start);
      if (from < block.used) yield block.data.subarray(from, block.used);
    }
  }
}
