// What a live recognition stream is, whatever it reports: Nova on /v1/listen (Results) and Flux on /v2/listen
// (TurnInfo) both take binary audio (raw, or a WAV header first when no encoding was given), decode it, find speech
// with the same energy VAD in stream time, close an idle stream with NET-0001, and fail one stream, never the
// process, on a bug. This base does that once; each protocol says what a text message means, what to do when
// speech starts or pauses, and what it sends (flux.ts, listen.ts).
import { performance } from "node:perf_hooks";
import type { WebSocket } from "ws";
import { PcmDecoder, parseWavHeader, type RawEncoding, wavEncoding } from "./audio.ts";
import { Outbox } from "./outbox.ts";
import type { StreamHandle } from "./streams.ts";
import { FRAME_MS, FrameAnalyzer, type FrameStats, GARBAGE_RUN_FRAMES, looksLikeGarbage, NoiseFloor } from "./vad.ts";

export const FRAME_S = FRAME_MS / 1000;
// Consecutive voiced frames before speech counts as started: shorter clicks are ignored.
const ONSET_FRAMES = 6;
const CONTAINER_PROBE_LIMIT = 64 * 1024;

export const round = (x: number): number => Math.round(x * 1000) / 1000;

/** A stable pseudo-random number in [0, 1) for a string (word confidences that repeat run to run). */
export function hashUnit(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0) / 4294967296;
}

export interface SpeechStreamOptions {
  /** For the log line when the stream fails on a bug ("listen", "flux"). */
  name: string;
  tags: readonly string[];
  /** null: the audio must start with a WAV header that says. */
  encoding: RawEncoding | null;
  sampleRate: number;
  /** Channels of raw audio (a WAV header gives its own). */
  channels: number;
  silenceTimeoutMs: number;
}

export abstract class SpeechStreamSession implements StreamHandle {
  readonly tags: readonly string[];
  protected readonly outbox: Outbox;
  private decoder: PcmDecoder | null = null;
  private analyzer: FrameAnalyzer | null = null;
  private probe: Buffer | null = null;
  private readonly floor = new NoiseFloor();
  /** 10 ms frames heard so far: the stream's clock. */
  protected frames = 0;
  private garbageRun = 0;
  private voicedRun = 0;
  protected inSpeech = false;
  /** Where the speech not yet counted into a line began (stream seconds). */
  protected segStart = 0;
  protected lastVoicedEnd = 0;
  private lastActivity = performance.now();
  private idleTimer: NodeJS.Timeout | undefined;
  protected closing = false;

  constructor(
    protected readonly ws: WebSocket,
    private readonly stream: SpeechStreamOptions,
  ) {
    this.tags = stream.tags;
    this.outbox = new Outbox(ws);
    if (stream.encoding) {
      this.decoder = new PcmDecoder(stream.encoding, stream.channels);
      this.analyzer = new FrameAnalyzer(stream.sampleRate, (s) => this.onFrame(s));
    }
    ws.on("message", (data, isBinary) => {
      try {
        const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
        if (isBinary) this.onAudio(buf);
        else if (!this.closing) {
          this.touch();
          this.onText(buf.toString("utf8"));
        }
      } catch (err) {
        // A bug here must cost one stream, not the process serving every other stream.
        console.error(`deepgram emulator: ${stream.name} stream failed`, err);
        this.fail(1011, "NET-0000");
      }
    });
    ws.on("close", () => this.stop());
    ws.on("error", () => this.stop());
    this.armIdle(stream.silenceTimeoutMs);
  }

  // ── What each protocol decides ──

  /** A text (control) message from the client, while the stream is open. */
  protected abstract onText(text: string): void;
  /** Every non-empty binary message as received, before decoding. */
  protected heard(_data: Buffer): void {}
  /** Speech began at `start` and was recognised as speech at `now`; `gapS` since the speech before it ended. */
  protected abstract onset(start: number, now: number, gapS: number): void;
  /** The seconds of silence after speech at which the speech counts as paused. */
  protected abstract pauseGapS(): number;
  /** Speech paused at `now` (`inSpeech` is already false). */
  protected abstract onPause(now: number): void;
  /** After the VAD has judged the frame ending at `now`. */
  protected abstract afterFrame(now: number): void;
  /** The client ended the stream: what is still to be said before the normal close. */
  protected abstract finish(): void;

  // ── Faults (StreamHandle) ──

  drop(): void {
    this.closing = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.outbox.clear();
    this.ws.terminate();
  }

  stall(on: boolean): void {
    this.outbox.muted = on;
  }

  protected get streamTime(): number {
    return this.frames * FRAME_S;
  }

  /** Counts the speech since segStart as said (a pause, a final): returns its seconds. */
  protected closeSegment(): number {
    const s = this.lastVoicedEnd - this.segStart;
    this.segStart = this.lastVoicedEnd;
    return s;
  }

  // ── Input ──

  private onAudio(data: Buffer): void {
    if (this.closing) return;
    this.touch();
    // The service treats an empty binary message as the end of the stream.
    if (data.length === 0) {
      this.closeStream();
      return;
    }
    this.heard(data);
    let payload: Buffer = data;
    if (!this.decoder) {
      const body = this.openContainer(data);
      if (!body) return;
      payload = body;
    }
    const pcm = this.decoder?.decode(payload);
    if (pcm) this.analyzer?.push(pcm);
  }

  /** Without `encoding` the stream must start with a header; only WAV is understood. Returns the audio after it. */
  private openContainer(data: Buffer): Buffer | null {
    this.probe = this.probe ? Buffer.concat([this.probe, data]) : data;
    const info = parseWavHeader(this.probe);
    if (info === "incomplete" && this.probe.length < CONTAINER_PROBE_LIMIT) return null;
    const encoding = info !== null && info !== "incomplete" ? wavEncoding(info) : null;
    if (info === null || info === "incomplete" || !encoding || info.channels < 1 || info.sampleRate < 1000) {
      this.fail(1008, "DATA-0000");
      return null;
    }
    this.decoder = new PcmDecoder(encoding, info.channels);
    this.analyzer = new FrameAnalyzer(info.sampleRate, (s) => this.onFrame(s));
    const body = this.probe.subarray(info.dataOffset);
    this.probe = null;
    return body;
  }

  // ── Voice activity, in stream time ──

  private onFrame(stats: FrameStats): void {
    if (this.closing) return;
    const t1 = (this.frames + 1) * FRAME_S;
    this.frames++;
    if (looksLikeGarbage(stats)) {
      if (++this.garbageRun >= GARBAGE_RUN_FRAMES) {
        this.fail(1008, "DATA-0000");
        return;
      }
    } else {
      this.garbageRun = 0;
    }
    if (this.floor.isVoiced(stats.db)) {
      this.voicedRun++;
      if (this.inSpeech) this.lastVoicedEnd = t1;
      else if (this.voicedRun >= ONSET_FRAMES) {
        const start = t1 - this.voicedRun * FRAME_S;
        const gapS = start - this.lastVoicedEnd;
        this.inSpeech = true;
        this.segStart = start;
        this.lastVoicedEnd = t1;
        this.onset(start, t1, gapS);
      }
    } else {
      this.voicedRun = 0;
      if (this.inSpeech && t1 - this.lastVoicedEnd >= this.pauseGapS() - 1e-9) {
        this.inSpeech = false;
        this.onPause(t1);
      }
    }
    this.afterFrame(t1);
  }

  // ── Lifecycle ──

  private touch(): void {
    this.lastActivity = performance.now();
  }

  private armIdle(delayMs: number): void {
    const timeoutMs = this.stream.silenceTimeoutMs;
    this.idleTimer = setTimeout(() => {
      const idle = performance.now() - this.lastActivity;
      if (idle >= timeoutMs - 1) this.fail(1011, "NET-0001");
      else this.armIdle(timeoutMs - idle);
    }, delayMs);
  }

  /** CloseStream (or an empty binary message): flush what was heard, then close normally. */
  protected closeStream(): void {
    this.endStream().catch((err: unknown) => console.error("deepgram emulator: CloseStream failed", err));
  }

  private async endStream(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.finish();
    await this.outbox.drained();
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(1000);
  }

  /** Takes nothing more from the client; what is already queued goes out, then the stream closes with `code`. */
  protected closeAfterDrain(code: number, reason: string): void {
    this.closing = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    void this.outbox.drained().then(() => {
      if (this.ws.readyState === this.ws.OPEN) this.ws.close(code, reason);
    });
  }

  protected fail(code: number, reason: string): void {
    this.closing = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.outbox.clear();
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(code, reason);
  }

  private stop(): void {
    this.closing = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.outbox.clear();
  }
}
