// A simulated phone caller that speaks Twilio Media Streams (or Telnyx media streaming) over a WebSocket, the way
// the carrier does: `connected`, `start`, then one 160-byte μ-law `media` frame every 20 ms for the whole call,
// silence between lines. Agent audio it receives goes into a playout buffer consumed in real time; marks are echoed
// once the audio queued before them has played, and `clear` drops the buffer and echoes pending marks at once.
// It measures per turn how long the agent takes to start answering and how fast it yields to a barge-in.
import { randomBytes, randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { z } from "zod";
import { FRAME_BYTES, FRAME_MS, MULAW_SILENCE, mulawRms, mulawWav } from "./audio.ts";
import { signTwilioRequest } from "./signature.ts";
import { speechFor } from "./speech.ts";

export { loadFixture, loadFixtureIndex, speechFor, synthesizeSpeech } from "./speech.ts";

export type Provider = "twilio" | "telnyx";

export interface SimulatedCallerOptions {
  /** ws:// or wss:// URL of the media stream (the TwiML `<Stream url>`). */
  streamUrl: string;
  provider?: Provider;
  /** The TwiML `<Parameter name value>` pairs; they arrive in `start.customParameters`. */
  customParameters?: Record<string, string>;
  accountSid?: string;
  callSid?: string;
  streamSid?: string;
  /** Carried in the Telnyx `start` message. */
  from?: string;
  to?: string;
  /** Signs the WebSocket upgrade with X-Twilio-Signature (stream URL, empty params) as Twilio does. */
  authToken?: string;
  headers?: Record<string, string>;
  /** RMS on the 16-bit scale above which an agent frame counts as speech. */
  energyThreshold?: number;
  /** Silence after agent speech that ends its reply. */
  replySilenceMs?: number;
  /** How long to wait for the agent to start answering. */
  replyTimeoutMs?: number;
  /** Longest reply listened to before moving on. */
  maxReplyMs?: number;
  connectTimeoutMs?: number;
  /** Keep what is heard and said for `recording()` / `saveRecording()`. */
  record?: boolean;
  fixturesDir?: string;
  /**
   * What the carrier does when the server ends the stream while the caller is still on the line: Twilio runs the
   * TwiML after `<Connect>` (a `<Redirect>` may bring a new `<Connect><Stream>`). Resolves to the next stream to open,
   * or null when the call ends there. The caller keeps talking meanwhile (into nothing, as on a real line) and goes
   * on with its script on the new stream. Without it, the call ends with the stream.
   */
  onStreamEnd?: (ended: { closeCode: number; streamSid: string }) => Promise<NextStream | null>;
}

/** A stream to open after the previous one ended (the TwiML's next `<Connect><Stream>`). */
export interface NextStream {
  streamUrl: string;
  customParameters: Record<string, string>;
}

/**
 * What to say: a fixture name, a fixture's exact text, or any text (spoken by espeak-ng); or raw 8 kHz μ-law audio
 * with the words it says (`text`) and how to label it in reports (`name`, default the text).
 */
export type Utterance = string | { audio: Uint8Array; text?: string; name?: string };

export interface BargeIn {
  /** Start the barge-in line once the agent's reply has been arriving this long. */
  afterAgentAudioMs: number;
  line: Utterance;
}

export type CallerStep =
  | string
  | { line: Utterance; bargeIn?: BargeIn }
  | { dtmf: string; gapMs?: number }
  | { pauseMs: number };

export interface TurnReport {
  /** The fixture name or text as given. */
  line: string;
  /** The words spoken when known (fixture text or synthesised line). */
  text: string | null;
  /** Milliseconds since stream start: first frame of the line sent. */
  startedAt: number;
  /** Milliseconds since stream start: last frame of the line sent. */
  endOfSpeechAt: number;
  speechMs: number;
  /**
   * From end of speech to the first non-silent agent frame received. Negative when the agent started talking
   * before the caller finished; null when it never answered.
   */
  firstAgentAudioMs: number | null;
  /** From the first to the last non-silent agent frame heard (played) in this turn's reply. */
  agentAudioMs: number;
  /** This line was spoken over the agent's previous reply. */
  bargedIn: boolean;
  /** Barge-in lines: from the first frame of the line to the `clear` that stopped the agent; null if none came. */
  clearAfterMs: number | null;
  /** The agent's reply to this line was cut short by the next line (a barge-in). */
  interrupted: boolean;
  /** From the first to the last non-silent frame of this line sent: the caller's own speech onset. */
  speechOnsetMs: number | null;
  /**
   * Barge-in lines that stopped the agent: from the caller's speech onset to the moment the agent's audio went
   * quiet as the caller heard it (the start of the first silence of 200 ms or more, or the `clear`), the
   * time-to-silence; null if it never stopped.
   */
  agentStoppedAfterOnsetMs: number | null;
  /** Barge-in lines: agent speech the caller still heard after it first went quiet and before the `clear`. */
  agentHeardAfterStopMs: number;
  /** The longest silence the caller heard inside this turn's reply, between two of its voiced frames. */
  longestAgentSilenceMs: number;
  /** No agent speech within replyTimeoutMs. */
  timedOut: boolean;
}

export interface MarkRecord {
  name: string;
  /** Milliseconds since stream start. */
  receivedAt: number;
  echoedAt: number | null;
  /** Echoed because a `clear` discarded the audio before it. */
  cleared: boolean;
}

export interface CallReport {
  provider: Provider;
  callSid: string;
  streamSid: string;
  accountSid: string;
  startedAt: string;
  durationMs: number;
  /** The agent speaking first, before any caller line. */
  greeting: { firstAgentAudioMs: number | null; agentAudioMs: number } | null;
  turns: TurnReport[];
  marksEchoed: number;
  marks: MarkRecord[];
  clearsReceived: number;
  dtmfSent: number;
  framesSent: number;
  /** Frames sent more than one frame period after they were due (event-loop stalls). */
  lateFrames: number;
  maxFrameLatenessMs: number;
  agentAudioReceivedMs: number;
  endedBy: "caller" | "server" | null;
  closeCode: number | null;
  /** Every stream of the call in order (more than one when the carrier followed TwiML to a new stream). */
  streams: { streamSid: string; url: string; openedAt: number; closedAt: number | null; closeCode: number | null }[];
  errors: string[];
}

/** A failure to reach the stream, phrased for a person (no stack trace needed). */
export class CallerError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = "CallerError";
  }
}

const hex32 = () => randomBytes(16).toString("hex");
export const newCallSid = () => `CA${hex32()}`;
export const newStreamSid = () => `MZ${hex32()}`;
export const newAccountSid = () => `AC${hex32()}`;

// What the media node may send back. Anything else is what Twilio reports as error 31924 and ignores.
const serverMessageSchema = z.discriminatedUnion("event", [
  z.object({
    event: z.literal("media"),
    streamSid: z.string().optional(),
    stream_id: z.string().optional(),
    media: z.object({ payload: z.string() }),
  }),
  z.object({
    event: z.literal("mark"),
    streamSid: z.string().optional(),
    stream_id: z.string().optional(),
    mark: z.object({ name: z.string() }),
  }),
  z.object({ event: z.literal("clear"), streamSid: z.string().optional(), stream_id: z.string().optional() }),
]);
type ServerMessage = z.infer<typeof serverMessageSchema>;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

interface Ids {
  accountSid: string;
  callSid: string;
  streamSid: string;
  callSessionId: string;
}

// The wire shape of each message, per carrier. Twilio: camelCase, numeric counters as strings. Telnyx: snake_case.
interface Dialect {
  connected(): object;
  start(params: Record<string, string>, from: string, to: string): object;
  media(seq: number, chunk: number, timestamp: number, payload: string): object;
  mark(seq: number, name: string): object;
  dtmf(seq: number, digit: string): object;
  stop(seq: number): object;
  streamIdOf(m: ServerMessage): string | undefined;
  requiresStreamId: boolean;
}

function twilioDialect(ids: Ids): Dialect {
  // Bound once per stream: a new stream gets a new StreamSid and a new dialect.
  const streamSid = ids.streamSid;
  return {
    connected: () => ({ event: "connected", protocol: "Call", version: "1.0.0" }),
    start: (params) => ({
      event: "start",
      sequenceNumber: "1",
      start: {
        accountSid: ids.accountSid,
        streamSid,
        callSid: ids.callSid,
        tracks: ["inbound"],
        customParameters: params,
        mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
      },
      streamSid,
    }),
    media: (seq, chunk, timestamp, payload) => ({
      event: "media",
      sequenceNumber: String(seq),
      media: { track: "inbound", chunk: String(chunk), timestamp: String(timestamp), payload },
      streamSid,
    }),
    mark: (seq, name) => ({ event: "mark", sequenceNumber: String(seq), streamSid, mark: { name } }),
    // Twilio names the track "inbound_track" here but "inbound" on media.
    dtmf: (seq, digit) => ({
      event: "dtmf",
      streamSid,
      sequenceNumber: String(seq),
      dtmf: { track: "inbound_track", digit },
    }),
    stop: (seq) => ({
      event: "stop",
      sequenceNumber: String(seq),
      stop: { accountSid: ids.accountSid, callSid: ids.callSid },
      streamSid,
    }),
    streamIdOf: (m) => m.streamSid,
    requiresStreamId: true,
  };
}

function telnyxDialect(ids: Ids): Dialect {
  const streamId = ids.streamSid;
  return {
    connected: () => ({ event: "connected", version: "1.0.0" }),
    start: (params, from, to) => ({
      event: "start",
      sequence_number: "1",
      start: {
        call_control_id: ids.callSid,
        call_session_id: ids.callSessionId,
        from,
        to,
        custom_parameters: params,
        media_format: { encoding: "PCMU", sample_rate: 8000, channels: 1 },
      },
      stream_id: streamId,
    }),
    media: (seq, chunk, timestamp, payload) => ({
      event: "media",
      sequence_number: String(seq),
      media: { track: "inbound", chunk: String(chunk), timestamp: String(timestamp), payload },
      stream_id: streamId,
    }),
    mark: (seq, name) => ({ event: "mark", sequence_number: String(seq), stream_id: streamId, mark: { name } }),
    dtmf: (seq, digit) => ({
      event: "dtmf",
      sequence_number: String(seq),
      stream_id: streamId,
      occurred_at: new Date().toISOString(),
      dtmf: { digit },
    }),
    stop: (seq) => ({
      event: "stop",
      sequence_number: String(seq),
      stream_id: streamId,
      stop: { call_control_id: ids.callSid },
    }),
    streamIdOf: (m) => m.stream_id,
    requiresStreamId: false,
  };
}

interface Turn {
  line: string;
  text: string | null;
  startedAt: number | null;
  endOfSpeechAt: number | null;
  firstVoiceReceivedAt: number | null;
  lastVoiceReceivedAt: number | null;
  firstVoicePlayedAt: number | null;
  lastVoicePlayedAt: number | null;
  replyWindowAt: number;
  bargedIn: boolean;
  clearAt: number | null;
  interrupted: boolean;
  timedOut: boolean;
  /** First voiced frame of this line sent. */
  onsetAt: number | null;
  /** Barge-in lines: the last voiced frame heard of the reply they talked over, since their onset. */
  interruptedReplyLastVoiceAt: number | null;
  /** Barge-in lines: when the reply they talked over went quiet as heard (see agentStoppedAfterOnsetMs). */
  agentStoppedAt: number | null;
  agentHeardAfterStopMs: number;
  longestSilenceMs: number;
}

interface PendingSpeech {
  audio: Uint8Array;
  offset: number;
  turn: Turn | null;
  done: () => void;
}

interface PendingMark {
  record: MarkRecord;
  /** Total bytes enqueued when the mark arrived: it is reached once that many bytes have played. */
  at: number;
}

class ByteSink {
  private chunks: Uint8Array[] = [];
  length = 0;
  push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

function describeConnectError(url: string, err: NodeJS.ErrnoException): CallerError {
  switch (err.code) {
    case "ECONNREFUSED":
      return new CallerError(`nothing is listening at ${url}; start the platform with npm start`, "ECONNREFUSED");
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new CallerError(`cannot resolve the host of ${url}`, err.code);
    case "ECONNRESET":
      return new CallerError(`${url} closed the connection during the WebSocket upgrade`, err.code);
    default:
      return new CallerError(`cannot open ${url}: ${err.message}`, err.code ?? "ECONNECT");
  }
}

export class SimulatedCaller {
  readonly provider: Provider;
  readonly callSid: string;
  readonly accountSid: string;
  private readonly ids: Ids;
  private dialect: Dialect;
  private readonly opts: Required<
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
  private nextDue = 0;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private closed = false;
  private hangingUp = false;
  private closeWaiters: (() => void)[] = [];
  private streams: CallReport["streams"] = [];
  private waiters: { ready: () => boolean; resolve: () => void }[] = [];

  // Caller → server.
  private speech: PendingSpeech[] = [];
  private framesSent = 0;
  private lateFrames = 0;
  private maxLateness = 0;
  private dtmfSent = 0;

  // Server → caller playout.
  private playQueue: Uint8Array[] = [];
  private playHead = 0;
  private enqueuedTotal = 0;
  private playedTotal = 0;
  private pendingMarks: PendingMark[] = [];
  private marks: MarkRecord[] = [];
  private clearsReceived = 0;
  private receivedBytes = 0;
  private lastVoiceReceivedAt = Number.NEGATIVE_INFINITY;
  private lastVoicePlayedAt = Number.NEGATIVE_INFINITY;

  // Turn bookkeeping: the turn whose reply window is open (first agent audio), and the one hearing playback.
  private greeting: Turn;
  private turns: Turn[] = [];
  private replyTurn: Turn | null;
  private playbackTurn: Turn | null;
  private pendingBargeIn: Turn | null = null;

  private callerSink = new ByteSink();
  private agentSink = new ByteSink();
  private errors: string[] = [];
  private endedBy: "caller" | "server" | null = null;
  private closeCode: number | null = null;

  private constructor(private readonly options: SimulatedCallerOptions) {
    this.provider = options.provider ?? "twilio";
    const telnyx = this.provider === "telnyx";
    this.ids = {
      accountSid: options.accountSid ?? newAccountSid(),
      callSid: options.callSid ?? (telnyx ? `v3:${randomBytes(16).toString("base64url")}` : newCallSid()),
      streamSid: options.streamSid ?? (telnyx ? randomUUID() : newStreamSid()),
      callSessionId: randomUUID(),
    };
    this.callSid = this.ids.callSid;
    this.accountSid = this.ids.accountSid;
    this.dialect = telnyx ? telnyxDialect(this.ids) : twilioDialect(this.ids);
    this.opts = {
      energyThreshold: options.energyThreshold ?? 200,
      replySilenceMs: options.replySilenceMs ?? 900,
      replyTimeoutMs: options.replyTimeoutMs ?? 15_000,
      maxReplyMs: options.maxReplyMs ?? 60_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
      record: options.record ?? true,
    };
    this.greeting = this.newTurn("(greeting)", null, false);
    this.replyTurn = this.greeting;
    this.playbackTurn = this.greeting;
  }

  /** Opens the stream, sends `connected` and `start`, and starts the 20 ms media clock. */
  static async connect(options: SimulatedCallerOptions): Promise<SimulatedCaller> {
    const caller = new SimulatedCaller(options);
    await caller.open();
    return caller;
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

  private async open(): Promise<void> {
    await this.openSocket(this.options.streamUrl);
    this.t0 = performance.now();
    this.startedAtIso = new Date().toISOString();
    this.greeting.replyWindowAt = 0;
    this.seq = 0;
    this.startStream(this.options.customParameters ?? {});
    this.running = true;
    this.nextDue = FRAME_MS;
    this.schedule();
  }

  /** `connected` and `start` on the socket just opened; media follows from the running clock. */
  private startStream(customParameters: Record<string, string>): void {
    this.send(this.dialect.connected());
    this.seq++;
    this.send(this.dialect.start(customParameters, this.options.from ?? "", this.options.to ?? ""));
  }

  private async openSocket(url: string): Promise<void> {
    if (!/^wss?:\/\//i.test(url)) throw new CallerError(`stream URL must be ws:// or wss://, got ${url}`, "EURL");
    const headers: Record<string, string> = { ...this.options.headers };
    if (this.options.authToken) headers["X-Twilio-Signature"] = signTwilioRequest(this.options.authToken, url, {});
    const ws = new WebSocket(url, {
      headers,
      handshakeTimeout: this.opts.connectTimeoutMs,
      perMessageDeflate: false,
    });
    this.ws = ws;
    await new Promise<void>((resolve, reject) => {
      const fail = (err: CallerError) => {
        ws.removeAllListeners();
        ws.on("error", () => {});
        ws.terminate();
        reject(err);
      };
      ws.once("open", () => {
        ws.removeAllListeners();
        resolve();
      });
      ws.once("unexpected-response", (_req, res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        fail(
          new CallerError(
            `${url} refused the media stream: HTTP ${status} ${res.statusMessage ?? ""}`.trim(),
            `HTTP${status}`,
          ),
        );
      });
      ws.once("error", (err: NodeJS.ErrnoException) => {
        if (/timed out/i.test(err.message)) {
          fail(new CallerError(`no WebSocket answer from ${url} within ${this.opts.connectTimeoutMs} ms`, "ETIMEDOUT"));
        } else fail(describeConnectError(url, err));
      });
    });
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
    this.playQueue = [];
    this.playHead = 0;
    this.enqueuedTotal = this.playedTotal;
    this.pendingMarks = [];
    this.ws = null;
    void next({ closeCode: code, streamSid: this.ids.streamSid })
      .then(async (stream) => {
        if (!stream || this.hangingUp) {
          this.onClose(code);
          return;
        }
        this.ids.streamSid = this.provider === "telnyx" ? randomUUID() : newStreamSid();
        this.dialect = this.provider === "telnyx" ? telnyxDialect(this.ids) : twilioDialect(this.ids);
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

  // ── clock ────────────────────────────────────────────────────────────────────────────────────────────────
  // Each frame is due at a fixed multiple of 20 ms after start, so timer jitter never accumulates into drift;
  // after an event-loop stall the overdue frames go out at once, as a carrier's buffered RTP would.

  private schedule(): void {
    if (!this.running) return;
    const delay = Math.max(0, this.nextDue - this.now());
    this.timer = setTimeout(() => this.onTimer(), delay);
  }

  private onTimer(): void {
    this.timer = null;
    while (this.running && this.nextDue <= this.now()) {
      const lateness = this.now() - this.nextDue;
      if (lateness > FRAME_MS) this.lateFrames++;
      if (lateness > this.maxLateness) this.maxLateness = lateness;
      this.tick();
      this.nextDue += FRAME_MS;
    }
    this.pump();
    this.schedule();
  }

  private stopClock(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private tick(): void {
    // Marks first: everything consumed at earlier ticks has finished playing by now.
    this.echoPlayedMarks();
    this.sendFrame();
    this.playFrame();
  }

  private sendFrame(): void {
    const frame = new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE);
    const current = this.speech[0];
    if (current) {
      if (current.offset === 0 && current.turn) current.turn.startedAt = this.now();
      const n = Math.min(FRAME_BYTES, current.audio.length - current.offset);
      frame.set(current.audio.subarray(current.offset, current.offset + n));
      if (current.turn && current.turn.onsetAt === null && mulawRms(frame, 0, n) > this.opts.energyThreshold) {
        current.turn.onsetAt = this.now();
      }
      current.offset += n;
      if (current.offset >= current.audio.length) {
        this.speech.shift();
        if (current.turn) current.turn.endOfSpeechAt = this.now();
        current.done();
      }
    }
    this.chunk++;
    this.seq++;
    this.send(
      this.dialect.media(this.seq, this.chunk, (this.chunk - 1) * FRAME_MS, Buffer.from(frame).toString("base64")),
    );
    this.framesSent++;
    if (this.opts.record) this.callerSink.push(frame);
  }

  private playFrame(): void {
    const frame = new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE);
    let n = 0;
    while (n < FRAME_BYTES && this.playQueue.length > 0) {
      const head = this.playQueue[0]!;
      const take = Math.min(FRAME_BYTES - n, head.length - this.playHead);
      frame.set(head.subarray(this.playHead, this.playHead + take), n);
      n += take;
      this.playHead += take;
      if (this.playHead >= head.length) {
        this.playQueue.shift();
        this.playHead = 0;
      }
    }
    this.playedTotal += n;
    if (n > 0 && mulawRms(frame, 0, n) > this.opts.energyThreshold) {
      const t = this.now();
      this.lastVoicePlayedAt = t;
      const turn = this.playbackTurn;
      if (turn) {
        if (turn.lastVoicePlayedAt !== null) {
          turn.longestSilenceMs = Math.max(turn.longestSilenceMs, t - turn.lastVoicePlayedAt - FRAME_MS);
        }
        turn.firstVoicePlayedAt ??= t;
        turn.lastVoicePlayedAt = t;
      }
    }
    this.followBargeIn(n > 0 && mulawRms(frame, 0, n) > this.opts.energyThreshold);
    if (this.opts.record) this.agentSink.push(frame);
  }

  /** While a barge-in line waits for its `clear`: when the reply it talks over went quiet, and what followed. */
  private followBargeIn(voiced: boolean): void {
    const barge = this.pendingBargeIn;
    if (!barge || barge.onsetAt === null || this.playbackTurn === barge) return;
    const t = this.now();
    if (barge.agentStoppedAt !== null) {
      if (voiced) barge.agentHeardAfterStopMs += FRAME_MS;
      return;
    }
    if (voiced) barge.interruptedReplyLastVoiceAt = t;
    const quietFrom = (barge.interruptedReplyLastVoiceAt ?? barge.onsetAt - FRAME_MS) + FRAME_MS;
    if (!voiced && t + FRAME_MS - quietFrom >= 200) barge.agentStoppedAt = quietFrom;
  }

  private echoPlayedMarks(): void {
    while (this.pendingMarks.length > 0 && this.pendingMarks[0]!.at <= this.playedTotal) {
      this.echoMark(this.pendingMarks.shift()!, false);
    }
  }

  private echoMark(mark: PendingMark, cleared: boolean): void {
    this.seq++;
    this.send(this.dialect.mark(this.seq, mark.record.name));
    mark.record.echoedAt = this.now();
    mark.record.cleared = cleared;
  }

  private get queuedBytes(): number {
    return this.enqueuedTotal - this.playedTotal;
  }

  // ── server messages ──────────────────────────────────────────────────────────────────────────────────────

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.closed) return;
    if (isBinary) {
      this.errors.push("31924: binary WebSocket frame (the carrier accepts JSON text only); ignored");
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(data.toString());
    } catch {
      this.errors.push("31924: message is not valid JSON; ignored");
      return;
    }
    const parsed = serverMessageSchema.safeParse(json);
    if (!parsed.success) {
      const event = typeof json === "object" && json && "event" in json ? String(json.event) : "(none)";
      this.errors.push(`31924: invalid message (event ${event}): ${parsed.error.issues[0]?.message ?? ""}; ignored`);
      return;
    }
    const msg = parsed.data;
    const streamId = this.dialect.streamIdOf(msg);
    if (streamId === undefined ? this.dialect.requiresStreamId : streamId !== this.streamSid) {
      this.errors.push(`${msg.event} message for stream ${streamId ?? "(missing)"}, not ${this.streamSid}; ignored`);
      return;
    }
    switch (msg.event) {
      case "media":
        this.onMedia(msg.media.payload);
        break;
      case "mark":
        this.pendingMarks.push({
          at: this.enqueuedTotal,
          record: this.recordMark(msg.mark.name),
        });
        break;
      case "clear":
        this.onClear();
        break;
    }
    this.pump();
  }

  private recordMark(name: string): MarkRecord {
    const record: MarkRecord = { name, receivedAt: this.now(), echoedAt: null, cleared: false };
    this.marks.push(record);
    return record;
  }

  private onMedia(payload: string): void {
    if (!BASE64.test(payload)) {
      this.errors.push("31924: media payload is not valid base64; ignored");
      return;
    }
    const audio = new Uint8Array(Buffer.from(payload, "base64"));
    if (audio.length === 0) return;
    if (audio.length >= 4 && String.fromCharCode(audio[0]!, audio[1]!, audio[2]!, audio[3]!) === "RIFF") {
      this.errors.push("31924: media payload starts with a WAV header (the carrier plays it as clicks)");
    }
    this.receivedBytes += audio.length;
    let voiced = false;
    for (let i = 0; i < audio.length && !voiced; i += FRAME_BYTES) {
      voiced = mulawRms(audio, i, Math.min(audio.length, i + FRAME_BYTES)) > this.opts.energyThreshold;
    }
    if (voiced) {
      const t = this.now();
      this.lastVoiceReceivedAt = t;
      const turn = this.replyTurn;
      if (turn) {
        turn.firstVoiceReceivedAt ??= t;
        turn.lastVoiceReceivedAt = t;
      }
    }
    this.playQueue.push(audio);
    this.enqueuedTotal += audio.length;
  }

  private onClear(): void {
    this.clearsReceived++;
    this.playQueue = [];
    this.playHead = 0;
    this.enqueuedTotal = this.playedTotal;
    for (const mark of this.pendingMarks.splice(0)) this.echoMark(mark, true);
    // Audio the agent withdrew while the caller was still talking (e.g. the greeting it stopped) is not the reply.
    const turn = this.replyTurn;
    if (
      turn &&
      turn !== this.greeting &&
      turn.firstVoiceReceivedAt !== null &&
      (turn.endOfSpeechAt === null || turn.firstVoiceReceivedAt < turn.endOfSpeechAt)
    ) {
      turn.firstVoiceReceivedAt = turn.lastVoiceReceivedAt = null;
      turn.firstVoicePlayedAt = turn.lastVoicePlayedAt = null;
    }
    const barge = this.pendingBargeIn;
    if (barge && barge.startedAt !== null && barge.clearAt === null) {
      barge.clearAt = this.now();
      if (barge.onsetAt !== null) {
        barge.agentStoppedAt ??= (barge.interruptedReplyLastVoiceAt ?? barge.onsetAt - FRAME_MS) + FRAME_MS;
      }
      this.pendingBargeIn = null;
      this.openReplyWindow(barge);
    }
  }

  private onClose(code: number): void {
    if (this.closed) return;
    this.closed = true;
    this.closeCode = code;
    this.endedBy ??= this.hangingUp ? "caller" : "server";
    this.stopClock();
    for (const s of this.speech.splice(0)) s.done();
    const waiters = this.waiters.splice(0);
    for (const w of waiters) w.resolve();
    for (const w of this.closeWaiters.splice(0)) w();
  }

  private send(message: object): void {
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  // ── waiting ──────────────────────────────────────────────────────────────────────────────────────────────

  private pump(): void {
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => {
      if (!w.ready()) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once `ready()` holds (checked every frame and on every server message) or the call has ended. */
  private waitUntil(ready: () => boolean): Promise<void> {
    if (this.closed || ready()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ ready, resolve }));
  }

  private speak(audio: Uint8Array, turn: Turn | null): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (audio.length === 0) {
      if (turn) turn.startedAt = turn.endOfSpeechAt = this.now();
      return Promise.resolve();
    }
    return new Promise((done) => this.speech.push({ audio, offset: 0, turn, done }));
  }

  private newTurn(line: string, text: string | null, bargedIn: boolean): Turn {
    return {
      line,
      text,
      startedAt: null,
      endOfSpeechAt: null,
      firstVoiceReceivedAt: null,
      lastVoiceReceivedAt: null,
      firstVoicePlayedAt: null,
      lastVoicePlayedAt: null,
      replyWindowAt: this.t0 ? this.now() : 0,
      bargedIn,
      clearAt: null,
      interrupted: false,
      timedOut: false,
      onsetAt: null,
      interruptedReplyLastVoiceAt: null,
      agentStoppedAt: null,
      agentHeardAfterStopMs: 0,
      longestSilenceMs: 0,
    };
  }

  private openReplyWindow(turn: Turn): void {
    turn.replyWindowAt = this.now();
    this.replyTurn = turn;
    this.playbackTurn = turn;
  }

  private lastVoiceAt(): number {
    return Math.max(this.lastVoiceReceivedAt, this.lastVoicePlayedAt);
  }

  /** Waits until the agent has answered and gone quiet (or never answers within replyTimeoutMs). */
  private async awaitReply(turn: Turn, timeoutMs = this.opts.replyTimeoutMs): Promise<void> {
    const from = () => turn.endOfSpeechAt ?? turn.replyWindowAt;
    await this.waitUntil(() => {
      const now = this.now();
      if (turn.firstVoiceReceivedAt === null) {
        if (now - Math.max(from(), turn.replyWindowAt) >= timeoutMs) {
          turn.timedOut = true;
          return true;
        }
        return false;
      }
      if (now - turn.firstVoiceReceivedAt >= this.opts.maxReplyMs) return true;
      return this.queuedBytes === 0 && now - this.lastVoiceAt() >= this.opts.replySilenceMs;
    });
  }

  private report1(turn: Turn): TurnReport {
    const end = turn.endOfSpeechAt ?? turn.startedAt ?? 0;
    const start = turn.startedAt ?? end;
    return {
      line: turn.line,
      text: turn.text,
      startedAt: round(start),
      endOfSpeechAt: round(end),
      speechMs: round(end - start),
      firstAgentAudioMs: turn.firstVoiceReceivedAt === null ? null : round(turn.firstVoiceReceivedAt - end),
      agentAudioMs:
        turn.firstVoicePlayedAt === null || turn.lastVoicePlayedAt === null
          ? 0
          : round(turn.lastVoicePlayedAt - turn.firstVoicePlayedAt + FRAME_MS),
      bargedIn: turn.bargedIn,
      clearAfterMs: turn.clearAt === null ? null : round(turn.clearAt - start),
      interrupted: turn.interrupted,
      timedOut: turn.timedOut,
      speechOnsetMs: turn.onsetAt === null ? null : round(turn.onsetAt - start),
      agentStoppedAfterOnsetMs:
        turn.clearAt === null || turn.onsetAt === null || turn.agentStoppedAt === null
          ? null
          : round(Math.max(0, turn.agentStoppedAt - turn.onsetAt)),
      agentHeardAfterStopMs: turn.agentHeardAfterStopMs,
      longestAgentSilenceMs: round(turn.longestSilenceMs),
    };
  }

  private async utterance(u: Utterance): Promise<{ audio: Uint8Array; line: string; text: string | null }> {
    if (typeof u !== "string") return { audio: u.audio, line: u.name ?? u.text ?? "(audio)", text: u.text ?? null };
    const s = await speechFor(u, { fixturesDir: this.options.fixturesDir });
    return { audio: s.audio, line: u, text: s.text };
  }

  // ── public actions ───────────────────────────────────────────────────────────────────────────────────────

  /** Waits for the agent's opening words (if it speaks first) to finish. Not hearing any is not an error. */
  async waitForGreeting(timeoutMs = 8_000): Promise<CallReport["greeting"]> {
    await this.awaitReply(this.greeting, timeoutMs);
    this.greeting.timedOut = false;
    return this.greetingReport();
  }

  private greetingReport(): CallReport["greeting"] {
    const r = this.report1(this.greeting);
    return {
      firstAgentAudioMs: this.greeting.firstVoiceReceivedAt === null ? null : round(this.greeting.firstVoiceReceivedAt),
      agentAudioMs: r.agentAudioMs,
    };
  }

  /** Speaks one line, then listens until the agent's reply has finished. */
  async say(line: Utterance): Promise<TurnReport> {
    const u = await this.utterance(line);
    const turn = this.newTurn(u.line, u.text, false);
    this.turns.push(turn);
    this.openReplyWindow(turn);
    await this.speak(u.audio, turn);
    await this.awaitReply(turn);
    return this.report1(turn);
  }

  /**
   * Speaks `line`; once the agent's reply has been arriving for `bargeIn.afterAgentAudioMs`, talks over it with
   * `bargeIn.line` and measures how long the agent takes to stop (its `clear`), then listens to the new reply.
   */
  async sayAndBargeIn(line: Utterance, bargeIn: BargeIn): Promise<{ interrupted: TurnReport; bargeIn: TurnReport }> {
    const [first, second] = await Promise.all([this.utterance(line), this.utterance(bargeIn.line)]);
    const turn = this.newTurn(first.line, first.text, false);
    this.turns.push(turn);
    this.openReplyWindow(turn);
    await this.speak(first.audio, turn);
    await this.waitUntil(() => {
      const now = this.now();
      if (turn.firstVoiceReceivedAt === null) {
        turn.timedOut = now - (turn.endOfSpeechAt ?? 0) >= this.opts.replyTimeoutMs;
        return turn.timedOut;
      }
      return now - turn.firstVoiceReceivedAt >= bargeIn.afterAgentAudioMs;
    });
    turn.interrupted = turn.firstVoiceReceivedAt !== null;
    const barge = this.newTurn(second.line, second.text, true);
    this.turns.push(barge);
    // Until the agent clears, what still arrives belongs to the reply being interrupted.
    this.replyTurn = null;
    this.pendingBargeIn = barge;
    await this.speak(second.audio, barge);
    if (this.pendingBargeIn === barge) {
      // No clear yet: give the agent until its old reply would have ended on its own.
      await this.waitUntil(
        () =>
          barge.clearAt !== null ||
          (this.queuedBytes === 0 && this.now() - this.lastVoiceAt() >= this.opts.replySilenceMs) ||
          this.now() - (barge.endOfSpeechAt ?? 0) >= this.opts.replyTimeoutMs,
      );
      if (this.pendingBargeIn === barge) {
        this.pendingBargeIn = null;
        this.openReplyWindow(barge);
      }
    }
    await this.awaitReply(barge);
    return { interrupted: this.report1(turn), bargeIn: this.report1(barge) };
  }

  /** Presses keys: one `dtmf` event per digit (0-9, *, #), `gapMs` apart, media continuing meanwhile. */
  async sendDtmf(digits: string, gapMs = 250): Promise<void> {
    if (!/^[0-9*#]+$/.test(digits)) throw new CallerError(`DTMF digits must be 0-9, * or #, got "${digits}"`, "EDTMF");
    for (const [i, digit] of [...digits].entries()) {
      if (this.closed) return;
      if (i > 0) await this.pause(gapMs);
      this.seq++;
      this.send(this.dialect.dtmf(this.seq, digit));
      this.dtmfSent++;
    }
  }

  /** Stays on the line (sending silence) for a while. */
  async pause(ms: number): Promise<void> {
    const until = this.now() + ms;
    await this.waitUntil(() => this.now() >= until);
  }

  async runScript(steps: readonly CallerStep[]): Promise<void> {
    for (const [i, step] of steps.entries()) {
      if (this.closed) {
        this.errors.push(`the stream closed before step ${i + 1} of ${steps.length}`);
        return;
      }
      if (typeof step === "string") await this.say(step);
      else if ("line" in step) {
        if (step.bargeIn) await this.sayAndBargeIn(step.line, step.bargeIn);
        else await this.say(step.line);
      } else if ("dtmf" in step) await this.sendDtmf(step.dtmf, step.gapMs);
      else if ("pauseMs" in step && Number.isFinite(step.pauseMs)) await this.pause(step.pauseMs);
      else
        throw new CallerError(
          `script step ${i + 1} is not a line, dtmf or pauseMs: ${JSON.stringify(step)}`,
          "ESCRIPT",
        );
    }
  }

  /** Hangs up: `stop`, then a normal close (1000). Resolves once the socket is closed. */
  async hangUp(): Promise<void> {
    if (this.closed) return;
    this.hangingUp = true;
    this.endedBy = "caller";
    this.stopClock();
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
    const turnsWithTimeouts = this.turns.filter((t) => t.timedOut);
    const errors = [...this.errors];
    for (const t of turnsWithTimeouts) {
      errors.push(`no agent reply within ${this.opts.replyTimeoutMs} ms after "${t.line}"`);
    }
    const greeting = this.greeting.firstVoiceReceivedAt === null ? null : this.greetingReport();
    return {
      provider: this.provider,
      callSid: this.callSid,
      streamSid: this.streamSid,
      accountSid: this.accountSid,
      startedAt: this.startedAtIso,
      durationMs: round(this.t0 ? this.now() : 0),
      greeting,
      turns: this.turns.map((t) => this.report1(t)),
      marksEchoed: this.marks.filter((m) => m.echoedAt !== null).length,
      marks: this.marks.map((m) => ({
        ...m,
        receivedAt: round(m.receivedAt),
        echoedAt: m.echoedAt === null ? null : round(m.echoedAt),
      })),
      clearsReceived: this.clearsReceived,
      dtmfSent: this.dtmfSent,
      framesSent: this.framesSent,
      lateFrames: this.lateFrames,
      maxFrameLatenessMs: round(this.maxLateness),
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
    return { agent: this.agentSink.bytes(), caller: this.callerSink.bytes() };
  }

  /** Writes a μ-law WAV: the agent as heard, or caller (left) and agent (right) together. */
  async saveRecording(file: string, channels: "agent" | "both" = "both"): Promise<void> {
    const { agent, caller } = this.recording();
    await writeFile(file, mulawWav(channels === "agent" ? [agent] : [caller, agent]));
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

export interface PlaceSimulatedCallOptions extends SimulatedCallerOptions {
  script: readonly CallerStep[];
  /** Listen for the agent's greeting before the first line (default true). */
  waitForGreeting?: boolean;
  greetingTimeoutMs?: number;
  /** Write the call audio (caller left, agent right) to this WAV file. */
  recordTo?: string;
}

/** Places one whole call: connect, hear the greeting, run the script, hang up; returns its report. */
export async function placeSimulatedCall(options: PlaceSimulatedCallOptions): Promise<CallReport> {
  const caller = await SimulatedCaller.connect({
    ...options,
    record: options.record ?? options.recordTo !== undefined,
  });
  return runCall(caller, options);
}

/** Runs a script on an already connected caller, hangs up, and returns the report. */
export async function runCall(
  caller: SimulatedCaller,
  options: Pick<PlaceSimulatedCallOptions, "script" | "waitForGreeting" | "greetingTimeoutMs" | "recordTo">,
): Promise<CallReport> {
  try {
    if (options.waitForGreeting ?? true) await caller.waitForGreeting(options.greetingTimeoutMs);
    await caller.runScript(options.script);
  } finally {
    await caller.hangUp();
  }
  if (options.recordTo) await caller.saveRecording(options.recordTo);
  return caller.report();
}
