// One phone line as the carrier runs it: the media stream's socket (and the next one, when the carrier follows its
// TwiML to a new `<Connect><Stream>`), a frame of caller audio every 20 ms for the whole call with silence between
// lines, agent audio played out in real time, marks echoed once the audio before them has played, and `clear`
// dropping what is queued. What it hears and sends goes to the TurnMeter; the scripted speaker builds on this.
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { FRAME_BYTES, FRAME_MS, MULAW_SILENCE } from "./audio.ts";
import {
  type Dialect,
  decodeMediaPayload,
  decodeServerMessage,
  dialectFor,
  type Ids,
  newIds,
  newStreamIdFor,
} from "./media-stream.ts";
import { FrameClock, PlayoutBuffer, SpeechQueue } from "./playout.ts";
import { CallRecording } from "./recording.ts";
import { openStreamSocket } from "./stream-socket.ts";
import { round, type Turn, TurnMeter } from "./turns.ts";
import type { CallReport, MarkRecord, Provider, SimulatedCallerOptions } from "./types.ts";

export class StreamSession {
  readonly provider: Provider;
  readonly callSid: string;
  readonly accountSid: string;
  private readonly ids: Ids;
  private dialect: Dialect;
  protected readonly opts: Required<
    Pick<
      SimulatedCallerOptions,
      "energyThreshold" | "replySilenceMs" | "replyTimeoutMs" | "maxReplyMs" | "connectTimeoutMs" | "record"
    >
  >;
  private ws: WebSocket | null = null;
  private t0 = 0;
  private startedAtIso = "";
  private seq = 0;
  private chunk = 0;
  private readonly clock: FrameClock;
  private closed = false;
  private hangingUp = false;
  private closeWaiters: (() => void)[] = [];
  private streams: CallReport["streams"] = [];
  private waiters: { ready: () => boolean; resolve: () => void }[] = [];

  // Caller → server.
  private speech = new SpeechQueue();
  private framesSent = 0;
  private dtmfSent = 0;

  // Server → caller playout.
  private playout = new PlayoutBuffer();
  private marks: MarkRecord[] = [];
  private clearsReceived = 0;
  private receivedBytes = 0;

  protected readonly meter: TurnMeter;
  private readonly recorder: CallRecording;
  protected errors: string[] = [];
  private endedBy: "caller" | "server" | null = null;
  private closeCode: number | null = null;

  protected constructor(protected readonly options: SimulatedCallerOptions) {
    this.provider = options.provider ?? "twilio";
    this.ids = newIds(this.provider, options);
    this.callSid = this.ids.callSid;
    this.accountSid = this.ids.accountSid;
    this.dialect = dialectFor(this.provider, this.ids);
    this.opts = {
      energyThreshold: options.energyThreshold ?? 200,
      replySilenceMs: options.replySilenceMs ?? 900,
      replyTimeoutMs: options.replyTimeoutMs ?? 15_000,
      maxReplyMs: options.maxReplyMs ?? 60_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
      record: options.record ?? true,
    };
    this.recorder = new CallRecording(this.opts.record);
    this.meter = new TurnMeter(() => this.now(), this.opts.energyThreshold);
    this.clock = new FrameClock(
      () => this.now(),
      () => this.tick(),
      () => this.pump(),
    );
  }

  /** The current stream's SID (a new one for each stream the call moves to). */
  get streamSid(): string {
    return this.ids.streamSid;
  }

  /** Milliseconds since the stream started (monotonic). */
  now(): number {
    return performance.now() - this.t0;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Agent audio received but not yet played. */
  protected get queuedBytes(): number {
    return this.playout.queuedBytes;
  }

  /** Opens the stream, sends `connected` and `start`, and starts the 20 ms media clock. */
  protected async open(): Promise<void> {
    await this.openSocket(this.options.streamUrl);
    this.t0 = performance.now();
    this.startedAtIso = new Date().toISOString();
    this.meter.greeting.replyWindowAt = 0;
    this.seq = 0;
    this.startStream(this.options.customParameters ?? {});
    this.clock.start();
  }

  /** `connected` and `start` on the socket just opened; media follows from the running clock. */
  private startStream(customParameters: Record<string, string>): void {
    this.send(this.dialect.connected());
    this.seq++;
    this.send(this.dialect.start(customParameters, this.options.from ?? "", this.options.to ?? ""));
  }

  private async openSocket(url: string): Promise<void> {
    const ws = await openStreamSocket(
      url,
      {
        headers: this.options.headers,
        authToken: this.options.authToken,
        connectTimeoutMs: this.opts.connectTimeoutMs,
      },
      (connecting) => {
        this.ws = connecting;
      },
    );
    ws.on("message", (data, isBinary) => {
      if (ws === this.ws) this.onMessage(data, isBinary);
    });
    ws.on("close", (code) => {
      if (ws === this.ws) this.onStreamClosed(code);
    });
    ws.on("error", (err) => this.errors.push(`socket error: ${err.message}`));
    this.streams.push({
      streamSid: this.ids.streamSid,
      url,
      openedAt: this.t0 ? this.now() : 0,
      closedAt: null,
      closeCode: null,
    });
  }

  /**
   * The server closed the stream. A hang-up, or a call with nowhere to go next, ends here; otherwise the carrier
   * follows its TwiML to the next stream while the caller, still on the line, keeps talking.
   */
  private onStreamClosed(code: number): void {
    const current = this.streams.at(-1);
    if (current) {
      current.closedAt = this.now();
      current.closeCode = code;
    }
    const next = this.options.onStreamEnd;
    if (this.hangingUp || !next) {
      this.onClose(code);
      return;
    }
    // Whatever the old stream still had to play is gone with it, and its marks will never be echoed.
    this.playout.clear();
    this.ws = null;
    void next({ closeCode: code, streamSid: this.ids.streamSid })
      .then(async (stream) => {
        if (!stream || this.hangingUp) {
          this.onClose(code);
          return;
        }
        this.ids.streamSid = newStreamIdFor(this.provider);
        this.dialect = dialectFor(this.provider, this.ids);
        await this.openSocket(stream.streamUrl);
        if (this.hangingUp) {
          this.ws?.close(1000);
          return;
        }
        // Sequence numbers and chunks count per stream.
        this.seq = 0;
        this.chunk = 0;
        this.startStream(stream.customParameters);
      })
      .catch((err: unknown) => {
        this.errors.push(`could not follow the call to a new stream: ${(err as Error).message}`);
        this.onClose(code);
      });
  }

  // ── one frame period ─────────────────────────────────────────────────────────────────────────────────────

  private tick(): void {
    // Marks first: everything consumed at earlier ticks has finished playing by now.
    for (const mark of this.playout.takePlayedMarks()) this.echoMark(mark, false);
    this.sendFrame();
    this.playFrame();
  }

  private sendFrame(): void {
    const frame = new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE);
    this.speech.fill(frame, (turn, n, first, last) => this.meter.lineFrameSent(turn, frame, n, first, last));
    this.chunk++;
    this.seq++;
    this.send(
      this.dialect.media(this.seq, this.chunk, (this.chunk - 1) * FRAME_MS, Buffer.from(frame).toString("base64")),
    );
    this.framesSent++;
    this.recorder.said(frame);
  }

  private playFrame(): void {
    const frame = new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE);
    const n = this.playout.playInto(frame);
    this.meter.played(frame, n);
    this.recorder.heard(frame);
  }

  private echoMark(mark: MarkRecord, cleared: boolean): void {
    this.seq++;
    this.send(this.dialect.mark(this.seq, mark.name));
    mark.echoedAt = this.now();
    mark.cleared = cleared;
  }

  // ── server messages ──────────────────────────────────────────────────────────────────────────────────────

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.closed) return;
    const decoded = decodeServerMessage(data, isBinary, this.dialect, this.streamSid);
    if ("ignored" in decoded) {
      this.errors.push(decoded.ignored);
      return;
    }
    const msg = decoded.message;
    switch (msg.event) {
      case "media":
        this.onMedia(msg.media.payload);
        break;
      case "mark": {
        const record: MarkRecord = { name: msg.mark.name, receivedAt: this.now(), echoedAt: null, cleared: false };
        this.marks.push(record);
        this.playout.mark(record);
        break;
      }
      case "clear":
        this.onClear();
        break;
    }
    this.pump();
  }

  private onMedia(payload: string): void {
    const decoded = decodeMediaPayload(payload);
    if ("ignored" in decoded) {
      this.errors.push(decoded.ignored);
      return;
    }
    const { audio } = decoded;
    if (audio.length === 0) return;
    if (decoded.warning) this.errors.push(decoded.warning);
    this.receivedBytes += audio.length;
    this.meter.received(audio);
    this.playout.enqueue(audio);
  }

  private onClear(): void {
    this.clearsReceived++;
    for (const mark of this.playout.clear()) this.echoMark(mark, true);
    this.meter.cleared();
  }

  private onClose(code: number): void {
    if (this.closed) return;
    this.closed = true;
    this.closeCode = code;
    this.endedBy ??= this.hangingUp ? "caller" : "server";
    this.clock.stop();
    this.speech.drop();
    const waiters = this.waiters.splice(0);
    for (const w of waiters) w.resolve();
    for (const w of this.closeWaiters.splice(0)) w();
  }

  protected send(message: object): void {
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  // ── waiting and speaking ─────────────────────────────────────────────────────────────────────────────────

  private pump(): void {
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => {
      if (!w.ready()) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once `ready()` holds (checked every frame and on every server message) or the call has ended. */
  protected waitUntil(ready: () => boolean): Promise<void> {
    if (this.closed || ready()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ ready, resolve }));
  }

  /** Queues audio to go out frame by frame; resolves when its last frame has been sent. */
  protected speak(audio: Uint8Array, turn: Turn | null): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (audio.length === 0) {
      if (turn) turn.startedAt = turn.endOfSpeechAt = this.now();
      return Promise.resolve();
    }
    return this.speech.add(audio, turn);
  }

  /** One `dtmf` event, between media frames. */
  protected pressKey(digit: string): void {
    this.seq++;
    this.send(this.dialect.dtmf(this.seq, digit));
    this.dtmfSent++;
  }

  /** Hangs up: `stop`, then a normal close (1000). Resolves once the socket is closed. */
  async hangUp(): Promise<void> {
    if (this.closed) return;
    this.hangingUp = true;
    this.endedBy = "caller";
    this.clock.stop();
    this.seq++;
    this.send(this.dialect.stop(this.seq));
    const closed = new Promise<void>((resolve) => this.closeWaiters.push(resolve));
    this.ws?.close(1000);
    const timer = setTimeout(() => this.ws?.terminate(), 2_000);
    await closed;
    clearTimeout(timer);
  }

  /** Resolves when the socket closes (after hangUp or when the server ends the stream). */
  closedPromise(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  report(): CallReport {
    const meter = this.meter;
    const errors = [...this.errors];
    for (const t of meter.turns.filter((t) => t.timedOut)) {
      errors.push(`no agent reply within ${this.opts.replyTimeoutMs} ms after "${t.line}"`);
    }
    return {
      provider: this.provider,
      callSid: this.callSid,
      streamSid: this.streamSid,
      accountSid: this.accountSid,
      startedAt: this.startedAtIso,
      durationMs: round(this.t0 ? this.now() : 0),
      greeting: meter.greeting.firstVoiceReceivedAt === null ? null : meter.greetingReport(),
      turns: meter.turns.map((t) => meter.report(t)),
      marksEchoed: this.marks.filter((m) => m.echoedAt !== null).length,
      marks: this.marks.map((m) => ({
        ...m,
        receivedAt: round(m.receivedAt),
        echoedAt: m.echoedAt === null ? null : round(m.echoedAt),
      })),
      clearsReceived: this.clearsReceived,
      dtmfSent: this.dtmfSent,
      framesSent: this.framesSent,
      lateFrames: this.clock.lateFrames,
      maxFrameLatenessMs: round(this.clock.maxLatenessMs),
      agentAudioReceivedMs: this.receivedBytes / 8,
      endedBy: this.endedBy,
      closeCode: this.closeCode,
      streams: this.streams.map((st) => ({
        ...st,
        openedAt: round(st.openedAt),
        closedAt: st.closedAt === null ? null : round(st.closedAt),
      })),
      errors,
    };
  }

  /** What was heard (agent) and said (caller) as μ-law, on one timeline of 20 ms frames. */
  recording(): { agent: Uint8Array; caller: Uint8Array } {
    return this.recorder.bytes();
  }

  /** Writes a μ-law WAV: the agent as heard, or caller (left) and agent (right) together. */
  async saveRecording(file: string, channels: "agent" | "both" = "both"): Promise<void> {
    await this.recorder.save(file, channels);
  }
}
