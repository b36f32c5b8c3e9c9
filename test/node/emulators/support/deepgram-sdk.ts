// Helpers for driving the Deepgram emulator with the official @deepgram/sdk v5, pointed at it by baseUrl only.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeepgramClient } from "@deepgram/sdk";

export type ListenArgs = Parameters<DeepgramClient["listen"]["v1"]["connect"]>[0];
export type ListenSocket = Awaited<ReturnType<DeepgramClient["listen"]["v1"]["connect"]>>;
export type SpeakArgs = Parameters<DeepgramClient["speak"]["v1"]["connect"]>[0];
export type SpeakSocket = Awaited<ReturnType<DeepgramClient["speak"]["v1"]["connect"]>>;

export function sdk(baseUrl: string, apiKey = "test-key"): DeepgramClient {
  return new DeepgramClient({ apiKey, baseUrl });
}

/** Raw μ-law 8 kHz speech from the emulator's own REST TTS (what the caller would hear, fed back as the caller). */
export async function speechMulaw(dg: DeepgramClient, text: string, model = "aura-2-zeus-en"): Promise<Buffer> {
  const res = await dg.speak.v1.audio.generate({
    text,
    model,
    encoding: "mulaw",
    sample_rate: 8000,
    container: "none",
  });
  return Buffer.from(await res.arrayBuffer());
}

/** Raw μ-law 8 kHz speech made by espeak-ng and sox directly, independent of the emulator's own synthesis. */
export function espeakMulaw(text: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), "dg-fixture-"));
  try {
    const wav = join(dir, "speech.wav");
    const raw = join(dir, "speech.ul");
    const speak = spawnSync("espeak-ng", ["-v", "en-us", "-s", "170", "-w", wav, text]);
    if (speak.status !== 0) throw new Error(`espeak-ng failed: ${speak.stderr}`);
    const conv = spawnSync("sox", [wav, "-r", "8000", "-c", "1", "-e", "u-law", "-t", "raw", raw]);
    if (conv.status !== 0) throw new Error(`sox failed: ${conv.stderr}`);
    return readFileSync(raw);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const mulawSilence = (seconds: number): Buffer => Buffer.alloc(Math.round(8000 * seconds), 0xff);

export interface Received {
  at: number;
  msg: { type: string } & Record<string, unknown>;
}

export interface ResultsMsg {
  type: "Results";
  start: number;
  duration: number;
  is_final?: boolean;
  speech_final?: boolean;
  from_finalize?: boolean;
  channel_index: number[];
  channel: {
    alternatives: Array<{
      transcript: string;
      confidence: number;
      words: Array<{ word: string; start: number; end: number; confidence: number; punctuated_word?: string }>;
    }>;
  };
  metadata: { request_id: string; model_info: { name: string; arch: string }; model_uuid: string };
}

/** Records everything a socket emits so tests can wait for and inspect it. */
export class Recorder {
  readonly messages: Received[] = [];
  readonly audio: Buffer[] = [];
  /** Sizes and arrival times of audio chunks, recorded as they arrive (bytes land in `audio` a tick later). */
  readonly audioChunks: Array<{ at: number; size: number }> = [];
  readonly errors: Error[] = [];
  close: { code: number; reason: string } | null = null;
  private waiters: Array<() => void> = [];

  attach(socket: ListenSocket | SpeakSocket): this {
    socket.on("message", (m: unknown) => {
      if (m instanceof Blob) {
        this.audioChunks.push({ at: performance.now(), size: m.size });
        this.notify();
        void m.arrayBuffer().then((ab) => {
          this.audio.push(Buffer.from(ab));
          this.notify();
        });
        return;
      }
      this.messages.push({ at: performance.now(), msg: m as Received["msg"] });
      this.notify();
    });
    socket.on("close", (ev: { code?: number; reason?: string }) => {
      this.close = { code: ev.code ?? 0, reason: ev.reason ?? "" };
      this.notify();
    });
    socket.on("error", (err: Error) => {
      this.errors.push(err);
      this.notify();
    });
    return this;
  }

  ofType<T = Received["msg"]>(type: string): T[] {
    return this.messages.filter((r) => r.msg.type === type).map((r) => r.msg as unknown as T);
  }

  results(): ResultsMsg[] {
    return this.ofType<ResultsMsg>("Results");
  }

  audioBytes(): number {
    return this.audioChunks.reduce((s, c) => s + c.size, 0);
  }

  /** All audio bytes, once every chunk's bytes have been read. */
  async allAudio(): Promise<Buffer> {
    await this.waitFor(() => this.audio.length === this.audioChunks.length, 5000, "audio bytes");
    return Buffer.concat(this.audio);
  }

  waitFor(predicate: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages.map((m) => m.msg.type))}`));
      }, timeoutMs);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

export async function openListen(
  dg: DeepgramClient,
  args: ListenArgs,
): Promise<{ socket: ListenSocket; rec: Recorder }> {
  const socket = await dg.listen.v1.connect({ reconnectAttempts: 0, ...args });
  const rec = new Recorder().attach(socket);
  socket.connect();
  await socket.waitForOpen();
  return { socket, rec };
}

export async function openSpeak(dg: DeepgramClient, args: SpeakArgs): Promise<{ socket: SpeakSocket; rec: Recorder }> {
  const socket = await dg.speak.v1.connect({ reconnectAttempts: 0, ...args });
  const rec = new Recorder().attach(socket);
  socket.connect();
  await socket.waitForOpen();
  return { socket, rec };
}

/**
 * Sends audio in 20 ms μ-law frames. The emulator works in stream time, so tests send faster than real time;
 * `realtime` paces frames on the wall clock instead.
 */
export async function sendFrames(
  socket: ListenSocket,
  audio: Buffer,
  opts: { realtime?: boolean } = {},
): Promise<void> {
  const frame = 160;
  const start = performance.now();
  for (let off = 0, i = 0; off < audio.length; off += frame, i++) {
    socket.sendMedia(audio.subarray(off, Math.min(audio.length, off + frame)));
    if (opts.realtime) {
      const due = start + (i + 1) * 20;
      await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
    } else if (i % 50 === 49) {
      await new Promise((r) => setImmediate(r));
    }
  }
}

/** RMS level of μ-law audio in dBFS, to tell speech from silence. */
export function mulawLevelDb(audio: Buffer): number {
  let sum = 0;
  for (const b of audio) {
    const u = ~b & 0xff;
    const mag = ((((u & 0x0f) << 3) + 0x84) << ((u >> 4) & 7)) - 0x84;
    sum += mag * mag;
  }
  const rms = Math.sqrt(sum / Math.max(1, audio.length));
  return rms <= 0 ? -100 : 20 * Math.log10(rms / 32768);
}

/** Drops the quiet tail a synthesiser leaves after speech, so only Finalize (not endpointing) can end the turn. */
export function trimTrailingSilence(audio: Buffer): Buffer {
  let end = audio.length;
  while (end > 0 && mulawLevelDb(audio.subarray(end - 1, end)) < -45) end--;
  return audio.subarray(0, end);
}

export type FluxArgs = Parameters<DeepgramClient["listen"]["v2"]["connect"]>[0];
export type FluxSocket = Awaited<ReturnType<DeepgramClient["listen"]["v2"]["connect"]>>;

export interface TurnInfoMsg {
  type: "TurnInfo";
  request_id: string;
  sequence_id: number;
  event: string;
  turn_index: number;
  audio_window_start: number;
  audio_window_end: number;
  transcript: string;
  words: Array<{ word: string; confidence: number }>;
  end_of_turn_confidence: number;
  trigger?: string;
}

/** A Flux (/v2/listen) stream through the SDK's listen.v2, recorded; the SDK's own reconnect is off. */
export async function openFlux(
  dg: DeepgramClient,
  args: Partial<FluxArgs> = {},
): Promise<{ socket: FluxSocket; rec: Recorder }> {
  const socket = await dg.listen.v2.connect({
    model: "flux-general-en",
    encoding: "mulaw",
    sample_rate: 8000,
    reconnectAttempts: 0,
    ...args,
  });
  const rec = new Recorder().attach(socket as unknown as ListenSocket);
  socket.connect();
  await socket.waitForOpen();
  return { socket, rec };
}

/** Sends μ-law audio to a Flux socket in 20 ms frames (faster than real time unless `realtime`). */
export async function sendFluxFrames(
  socket: FluxSocket,
  audio: Buffer,
  opts: { realtime?: boolean } = {},
): Promise<void> {
  await sendFrames(socket as unknown as ListenSocket, audio, opts);
}

/** The TurnInfo events a recorder saw, as `event:transcript` lines, for readable assertions. */
export function turnEvents(rec: Recorder): TurnInfoMsg[] {
  return rec.ofType<TurnInfoMsg>("TurnInfo");
}
