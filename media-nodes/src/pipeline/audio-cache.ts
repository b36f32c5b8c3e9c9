// Pre-synthesized lines (acknowledgement, dead-air filler, apology, goodbye), cached per voice and text
// for the whole node: the caller hears them the instant they are needed, with no TTS round trip, and a
// thousand calls of one agent synthesize each line once.

import type { TtsProvider } from "../providers/types.ts";
import type { Logger } from "../server/logger.ts";

interface Entry {
  audio?: Uint8Array;
  pending?: Promise<Uint8Array | undefined>;
  failedAt?: number;
}

export class AudioCache {
  readonly #entries = new Map<string, Entry>();
  readonly #max: number;
  synthesized = 0;

  constructor(
    private readonly logger: Logger,
    opts: { maxEntries?: number } = {},
  ) {
    this.#max = opts.maxEntries ?? 512;
  }

  get(voice: string, text: string): Uint8Array | undefined {
    const key = `${voice}\u0000${text}`;
    const entry = this.#entries.get(key);
    if (entry?.audio) {
      // Map order is insertion order: re-inserting marks it most recently used.
      this.#entries.delete(key);
      this.#entries.set(key, entry);
    }
    return entry?.audio;
  }

  /** Synthesizes once per (voice, text); failures resolve undefined and are retried after 30 s. */
  warm(tts: TtsProvider, voice: string, text: string): Promise<Uint8Array | undefined> {
    const key = `${voice}\u0000${text}`;
    const entry = this.#entries.get(key);
    if (entry?.audio) return Promise.resolve(entry.audio);
    if (entry?.pending) return entry.pending;
    if (entry?.failedAt !== undefined && Date.now() - entry.failedAt < 30_000) return Promise.resolve(undefined);
    const fresh: Entry = {};
    fresh.pending = tts
      .synthesize(text, { voice, encoding: "mulaw", sampleRate: 8_000 })
      .then((audio) => {
        this.synthesized += 1;
        fresh.audio = audio;
        fresh.pending = undefined;
        return audio;
      })
      .catch((err: unknown) => {
        this.logger.warn("pre-synthesis failed", { voice, error: String(err) });
        fresh.pending = undefined;
        fresh.failedAt = Date.now();
        return undefined;
      });
    this.#entries.set(key, fresh);
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    return fresh.pending;
  }
}
