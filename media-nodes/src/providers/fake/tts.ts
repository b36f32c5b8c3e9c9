// Scripted text-to-speech for unit tests. It emits real-looking μ-law (a tone, never silence) whose
// length is proportional to the text, so pacing, marks and barge-in truncation can be tested without
// a vendor.
import type { TtsEvent, TtsOptions, TtsProvider, TtsSession } from "../types.ts";

export interface FakeTtsOptions {
  /** Delay before the first audio of each utterance (after open, a flush or a clear). */
  firstByteMs?: number;
  /** Audio bytes per character of text; 160 bytes is one 20 ms μ-law frame at 8 kHz. */
  bytesPerChar?: number;
  /** Voices whose open() and synthesize() fail, to exercise voice fallback. */
  failVoices?: string[];
}

/** Largest chunk emitted at once, like a vendor streaming in pieces. */
const CHUNK_BYTES = 1_600;

function linearToMulaw(sample: number): number {
  const BIAS = 0x84;
  const CLIP = 32_635;
  const sign = sample < 0 ? 0x80 : 0;
  let s = Math.min(Math.abs(sample), CLIP) + BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  s = ~(sign | (exponent << 4) | mantissa) & 0xff;
  return s;
}

/** A 440 Hz tone at about -12 dBFS: loud enough that any VAD or level meter calls it speech. */
export function fakeSpeech(bytes: number, sampleRate = 8_000): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++)
    out[i] = linearToMulaw(Math.round(8_000 * Math.sin((2 * Math.PI * 440 * i) / sampleRate)));
  return out;
}

type QueueItem = { kind: "text"; text: string } | { kind: "flush"; sequenceId: number };

export class FakeTtsSession implements TtsSession {
  /** Texts passed to speak(), in order. */
  readonly texts: string[] = [];
  flushCalls = 0;
  clearCalls = 0;
  closed = false;
  /** Audio bytes actually emitted. */
  audioBytes = 0;
  private queue: QueueItem[] = [];
  private running = false;
  private sequence = 0;
  /** Bumped by clear(): a running pump sees it changed and drops what it was doing. */
  private generation = 0;
  private startOfUtterance = true;

  constructor(
    readonly options: TtsOptions,
    private readonly onEvent: (event: TtsEvent) => void,
    private readonly opts: Required<Omit<FakeTtsOptions, "failVoices">>,
  ) {}

  speak(text: string): void {
    if (this.closed) return;
    this.texts.push(text);
    this.queue.push({ kind: "text", text });
    this.pump();
  }

  flush(): void {
    if (this.closed) return;
    this.flushCalls += 1;
    this.queue.push({ kind: "flush", sequenceId: this.sequence++ });
    this.pump();
  }

  clear(): void {
    if (this.closed) return;
    this.clearCalls += 1;
    this.queue = [];
    this.generation += 1;
    this.startOfUtterance = true;
    const sequenceId = this.sequence++;
    queueMicrotask(() => {
      if (!this.closed) this.onEvent({ type: "cleared", sequenceId });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.generation += 1;
    this.onEvent({ type: "closed", code: 1000, reason: "closed by client" });
  }

  /** Simulates the vendor dropping the connection (e.g. mid-speech). */
  fail(code = 1011, reason = "fake TTS failure"): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.generation += 1;
    this.onEvent({ type: "closed", code, reason });
  }

  private pump(): void {
    if (this.running) return;
    this.running = true;
    void this.run().finally(() => {
      this.running = false;
      if (this.queue.length > 0 && !this.closed) this.pump();
    });
  }

  private async run(): Promise<void> {
    while (this.queue.length > 0 && !this.closed) {
      const gen = this.generation;
      const item = this.queue.shift()!;
      if (item.kind === "flush") {
        this.startOfUtterance = true;
        await sleep(0);
        if (gen === this.generation) this.onEvent({ type: "flushed", sequenceId: item.sequenceId });
        continue;
      }
      if (this.startOfUtterance) {
        await sleep(this.opts.firstByteMs);
        if (gen !== this.generation) continue;
        this.startOfUtterance = false;
      }
      let remaining = item.text.length * this.opts.bytesPerChar;
      while (remaining > 0) {
        if (gen !== this.generation) break;
        const n = Math.min(remaining, CHUNK_BYTES);
        remaining -= n;
        this.audioBytes += n;
        this.onEvent({ type: "audio", audio: fakeSpeech(n, this.options.sampleRate) });
        await sleep(0);
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class FakeTts implements TtsProvider {
  readonly name = "fake-tts";
  readonly sessions: FakeTtsSession[] = [];
  /** Texts passed to synthesize(). */
  readonly synthesized: { text: string; voice: string }[] = [];
  private readonly opts: Required<FakeTtsOptions>;

  constructor(opts: FakeTtsOptions = {}) {
    this.opts = {
      firstByteMs: opts.firstByteMs ?? 0,
      bytesPerChar: opts.bytesPerChar ?? 160,
      failVoices: opts.failVoices ?? [],
    };
  }

  async open(options: TtsOptions, onEvent: (event: TtsEvent) => void): Promise<TtsSession> {
    if (this.opts.failVoices.includes(options.voice)) throw new Error(`fake TTS: voice ${options.voice} unavailable`);
    const session = new FakeTtsSession(options, onEvent, {
      firstByteMs: this.opts.firstByteMs,
      bytesPerChar: this.opts.bytesPerChar,
    });
    this.sessions.push(session);
    return session;
  }

  async synthesize(text: string, options: TtsOptions): Promise<Uint8Array> {
    if (this.opts.failVoices.includes(options.voice)) throw new Error(`fake TTS: voice ${options.voice} unavailable`);
    this.synthesized.push({ text, voice: options.voice });
    if (this.opts.firstByteMs > 0) await sleep(this.opts.firstByteMs);
    return fakeSpeech(text.length * this.opts.bytesPerChar, options.sampleRate);
  }
}
