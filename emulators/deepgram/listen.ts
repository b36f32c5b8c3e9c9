// One live-transcription stream (/v1/listen): decode → VAD → scripted words, in Deepgram's message shapes.
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { WebSocket } from "ws";
import { z } from "zod";
import { PcmDecoder, parseWavHeader, wavEncoding } from "./audio.ts";
import { ScriptLine } from "./line.ts";
import { Outbox } from "./outbox.ts";
import type { ListenConfig } from "./params.ts";
import {
  DEFAULT_CALLER_SCRIPT,
  expectedSeconds,
  type FormatOptions,
  type ScriptBook,
  tokenize,
  transcriptOf,
} from "./script.ts";
import type { StreamHandle } from "./streams.ts";
import { FRAME_MS, FrameAnalyzer, type FrameStats, GARBAGE_RUN_FRAMES, looksLikeGarbage, NoiseFloor } from "./vad.ts";

const FRAME_S = FRAME_MS / 1000;
// Consecutive voiced frames before speech counts as started: shorter clicks are ignored.
const ONSET_FRAMES = 6;
// An energy VAD cannot tell pauses shorter than this from the gaps inside words, so endpointing never fires sooner.
const MIN_ENDPOINT_MS = 200;
// With endpointing=false results are still finalised (without speech_final) after this much silence.
const DISABLED_ENDPOINT_FINALIZE_MS = 500;
// At an endpoint, a scripted line is complete once this fraction of its expected length was spoken; otherwise the
// pause is taken as mid-sentence and the rest of the line waits for the next speech.
const CLOSE_FRACTION = 0.5;
const SHORT_LINE_S = 1.0;
const SHORT_BURST_S = 0.8;
const LONG_SPEECH_S = 1.5;
// Long silences still produce (empty) finals, as the service does; clients must ignore them.
const SILENCE_FINAL_S = 5;
const CONTAINER_PROBE_LIMIT = 64 * 1024;

const ClientMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("KeepAlive") }),
  z.object({ type: z.literal("Finalize"), channel: z.number().int().optional() }),
  z.object({ type: z.literal("CloseStream") }),
]);

export interface ListenDeps {
  requestId: string;
  scripts: ScriptBook;
  sttFinalDelayMs: number;
  silenceTimeoutMs: number;
}

interface Turn {
  /** The scripted line being said; `line.committed` words of it are finalised. */
  line: ScriptLine;
  closedSpeechS: number;
  shown: number;
  segments: number;
  /** Where the speech not yet covered by a final began (stream seconds), or null if there is none. */
  windowSpeechStart: number | null;
}

interface WordOut {
  word: string;
  start: number;
  end: number;
  confidence: number;
  punctuated_word?: string;
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

function hashUnit(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0) / 4294967296;
}

export function modelUuid(model: string): string {
  const hex = createHash("sha1").update(`deepgram-emulator:${model}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function modelInfo(model: string): { name: string; version: string; arch: string } {
  const m = /^(nova-3|nova-2|nova|enhanced|base)(?:-([a-z]+))?$/.exec(model);
  const arch = m?.[1] ?? "base";
  const domain = m?.[2] ?? "general";
  return { name: `${domain}-${arch}`, version: "2025-01-01.0", arch };
}

export class ListenSession implements StreamHandle {
  readonly tags: readonly string[];
  private readonly outbox: Outbox;
  private readonly audioHash = createHash("sha256");
  private readonly created = new Date().toISOString();
  private readonly format: FormatOptions;
  private readonly endpointGapS: number;
  private readonly shortLines: string[];
  private readonly modelId: string;
  private readonly info: { name: string; version: string; arch: string };
  private decoder: PcmDecoder | null = null;
  private analyzer: FrameAnalyzer | null = null;
  private probe: Buffer | null = null;
  private readonly floor = new NoiseFloor();
  private frames = 0;
  private garbageRun = 0;
  private voicedRun = 0;
  private inSpeech = false;
  private segStart = 0;
  private lastVoicedEnd = 0;
  private turn: Turn | null = null;
  /** Speech that continues after Finalize completed its line; it belongs to no new line. */
  private orphanSegment = false;
  private cursor = 0;
  private lastWordEnd = 0;
  private utterancePending = false;
  private defaultIndex = 0;
  private shortIndex = 0;
  private lastActivity = performance.now();
  private idleTimer: NodeJS.Timeout | undefined;
  private closing = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly config: ListenConfig,
    private readonly deps: ListenDeps,
  ) {
    this.tags = config.tags;
    this.outbox = new Outbox(ws);
    this.format = { punctuate: config.punctuate, smartFormat: config.smartFormat, numerals: config.numerals };
    this.endpointGapS =
      (config.endpointingMs === null
        ? DISABLED_ENDPOINT_FINALIZE_MS
        : Math.max(config.endpointingMs, MIN_ENDPOINT_MS)) / 1000;
    this.shortLines = DEFAULT_CALLER_SCRIPT.filter((l) => expectedSeconds(tokenize(l, this.format)) <= SHORT_LINE_S);
    this.modelId = modelUuid(config.model);
    this.info = modelInfo(config.model);
    if (config.encoding) {
      this.decoder = new PcmDecoder(config.encoding, config.channels);
      this.analyzer = new FrameAnalyzer(config.sampleRate, (s) => this.onFrame(s));
    }
    ws.on("message", (data, isBinary) => {
      try {
        const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
        if (isBinary) this.onAudio(buf);
        else this.onText(buf.toString("utf8"));
      } catch (err) {
        // A bug here must cost one stream, not the process serving every other stream.
        console.error("deepgram emulator: listen stream failed", err);
        this.fail(1011, "NET-0000");
      }
    });
    ws.on("close", () => this.stop());
    ws.on("error", () => this.stop());
    this.armIdle(deps.silenceTimeoutMs);
  }

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

  private get streamTime(): number {
    return this.frames * FRAME_S;
  }

  // ── Input ──

  private onAudio(data: Buffer): void {
    if (this.closing) return;
    this.touch();
    // The service treats an empty binary message as the end of the stream.
    if (data.length === 0) {
      this.closeStream().catch((err: unknown) => console.error("deepgram emulator: CloseStream failed", err));
      return;
    }
    this.audioHash.update(data);
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

  private onText(text: string): void {
    if (this.closing) return;
    this.touch();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return;
    }
    // The service documents no reply to unknown control messages; they only count as activity.
    const msg = ClientMessage.safeParse(json);
    if (!msg.success) return;
    if (msg.data.type === "Finalize") this.finalizeNow();
    else if (msg.data.type === "CloseStream") {
      this.closeStream().catch((err: unknown) => console.error("deepgram emulator: CloseStream failed", err));
    }
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
      else if (this.voicedRun >= ONSET_FRAMES) this.onset(t1 - this.voicedRun * FRAME_S, t1);
    } else {
      this.voicedRun = 0;
      if (this.inSpeech && t1 - this.lastVoicedEnd >= this.endpointGapS - 1e-9) this.endpoint(t1);
    }
    if (this.inSpeech) this.maybeInterim(t1);
    this.maybeUtteranceEnd(t1);
    this.maybeSilenceFinal(t1);
  }

  private onset(start: number, now: number): void {
    this.inSpeech = true;
    this.segStart = start;
    this.lastVoicedEnd = now;
    this.orphanSegment = false;
    if (this.config.vadEvents) {
      this.send({ type: "SpeechStarted", channel: [0, this.config.channels], timestamp: round(start) });
    }
    if (!this.turn) this.turn = this.newTurn();
    this.turn.segments++;
    if (this.turn.windowSpeechStart === null) this.turn.windowSpeechStart = start;
  }

  private endpoint(now: number): void {
    this.inSpeech = false;
    if (this.orphanSegment) {
      this.orphanSegment = false;
      return;
    }
    const turn = this.turn;
    if (!turn) return;
    turn.closedSpeechS += this.lastVoicedEnd - this.segStart;
    this.segStart = this.lastVoicedEnd;
    this.emitFinal(now, this.config.endpointingMs !== null, false);
  }

  // ── Lines and words ──

  private newTurn(): Turn {
    const scripted = this.deps.scripts.take(this.config.tags);
    if (scripted !== undefined) return this.makeTurn(scripted, "script");
    const line = DEFAULT_CALLER_SCRIPT[this.defaultIndex % DEFAULT_CALLER_SCRIPT.length] ?? "";
    this.defaultIndex++;
    return this.makeTurn(line, "default");
  }

  private makeTurn(text: string, source: ScriptLine["source"]): Turn {
    return {
      line: new ScriptLine(text, source, this.format),
      closedSpeechS: 0,
      shown: 0,
      segments: 0,
      windowSpeechStart: null,
    };
  }

  private retarget(turn: Turn, text: string): void {
    turn.line.retarget(text);
    turn.shown = turn.line.committed;
  }

  private speechSeconds(turn: Turn): number {
    const open = this.inSpeech && !this.orphanSegment && this.turn === turn ? this.lastVoicedEnd - this.segStart : 0;
    return turn.closedSpeechS + open;
  }

  /**
   * The default script is a guess at what an unscripted caller says, so let the audio overrule it: a short burst
   * is heard as a short line (the long one stays next), and long speech where a backchannel was due is heard as
   * the next full sentence.
   */
  private adjustDefaultLine(turn: Turn, speechS: number, atFinal: boolean): void {
    const line = turn.line;
    if (line.source !== "default" || line.committed > 0) return;
    // Measured against the part due, so a line that opens with a short part ("um … let me think") keeps it.
    if (atFinal && turn.segments === 1 && speechS < SHORT_BURST_S && line.partExpectedS() > SHORT_LINE_S) {
      this.defaultIndex--;
      this.retarget(turn, this.shortLines[this.shortIndex++ % this.shortLines.length] ?? "Okay.");
      return;
    }
    if (line.expectedS <= SHORT_LINE_S && speechS > LONG_SPEECH_S) {
      for (let i = 0; i < DEFAULT_CALLER_SCRIPT.length; i++) {
        const next = DEFAULT_CALLER_SCRIPT[this.defaultIndex % DEFAULT_CALLER_SCRIPT.length] ?? "";
        this.defaultIndex++;
        if (expectedSeconds(tokenize(next, this.format)) > SHORT_LINE_S) {
          this.retarget(turn, next);
          return;
        }
      }
    }
  }

  private timeWords(turn: Turn, from: number, to: number, spanStart: number, spanEnd: number): WordOut[] {
    const slice = turn.line.slice(from, to);
    const total = slice.reduce((s, t) => s + t.weight, 0) || 1;
    const span = Math.max(0.05 * slice.length, spanEnd - spanStart);
    const punct = this.format.punctuate || this.format.smartFormat;
    let t = spanStart;
    return slice.map((tok, i) => {
      const d = (span * tok.weight) / total;
      const word: WordOut = {
        word: tok.word,
        start: round(t),
        end: round(t + d),
        confidence: round(0.9 + 0.099 * hashUnit(`${tok.word}:${from + i}`)),
      };
      if (punct) word.punctuated_word = tok.punctuated;
      t += d;
      return word;
    });
  }

  private maybeInterim(now: number): void {
    const turn = this.turn;
    if (!this.config.interimResults || this.orphanSegment || !turn || turn.windowSpeechStart === null) return;
    const speechS = this.speechSeconds(turn);
    this.adjustDefaultLine(turn, speechS, false);
    const from = turn.line.committed;
    const k = turn.line.revealed(speechS);
    if (k <= turn.shown || k <= from) return;
    turn.shown = k;
    const words = this.timeWords(turn, from, k, turn.windowSpeechStart, this.lastVoicedEnd);
    this.sendResults({ isFinal: false, speechFinal: false, fromFinalize: false, end: now, turn, from, words });
  }

  /**
   * Emits the final for the current window: the part being said (the whole line, or up to its next `…` pause) if
   * enough of it was spoken, else what was heard so far.
   */
  private emitFinal(now: number, speechFinal: boolean, fromFinalize: boolean): void {
    const turn = this.turn;
    // A window with no speech in it (a Finalize already took the words, and the caller said nothing since) holds
    // no words: the endpoint that follows must not reveal the next part before it is spoken.
    if (turn && turn.windowSpeechStart !== null && this.lastVoicedEnd > turn.windowSpeechStart) {
      const speechS = this.speechSeconds(turn);
      this.adjustDefaultLine(turn, speechS, true);
      const line = turn.line;
      const partEnd = line.partEnd();
      // A default line is only a guess at what was said, so each endpoint completes its part: one utterance, one
      // part (a line without `…` is one part).
      const upto =
        line.source === "default" || line.partSpoken(speechS) >= CLOSE_FRACTION
          ? partEnd
          : Math.min(partEnd, Math.max(line.committed + 1, line.revealed(speechS)));
      const spanEnd = Math.max(this.lastVoicedEnd, turn.windowSpeechStart);
      const from = line.committed;
      const words = this.timeWords(turn, from, upto, turn.windowSpeechStart, spanEnd);
      line.commit(upto, speechS);
      turn.shown = upto;
      turn.windowSpeechStart = this.inSpeech ? this.lastVoicedEnd : null;
      if (line.done) {
        this.turn = null;
        if (this.inSpeech) this.orphanSegment = true;
      }
      this.sendResults({ isFinal: true, speechFinal, fromFinalize, end: now, turn, from, words });
    } else {
      if (turn && turn.windowSpeechStart !== null) turn.windowSpeechStart = this.inSpeech ? this.lastVoicedEnd : null;
      this.sendResults({ isFinal: true, speechFinal: false, fromFinalize, end: now, turn: null, from: 0, words: [] });
    }
    this.cursor = now;
  }

  private finalizeNow(): void {
    const turn = this.turn;
    if (turn && this.inSpeech && !this.orphanSegment) {
      turn.closedSpeechS += this.lastVoicedEnd - this.segStart;
      this.segStart = this.lastVoicedEnd;
    }
    this.emitFinal(Math.max(this.streamTime, this.cursor), false, true);
  }

  private maybeUtteranceEnd(now: number): void {
    const ms = this.config.utteranceEndMs;
    if (ms === null || !this.utterancePending || now - this.lastWordEnd < ms / 1000 - 1e-9) return;
    const turn = this.turn;
    if (this.inSpeech && turn && turn.shown < turn.line.length) return;
    this.utterancePending = false;
    this.send({ type: "UtteranceEnd", channel: [0, this.config.channels], last_word_end: round(this.lastWordEnd) });
  }

  private maybeSilenceFinal(now: number): void {
    if (this.inSpeech || this.turn || now - this.cursor < SILENCE_FINAL_S) return;
    this.sendResults({
      isFinal: true,
      speechFinal: false,
      fromFinalize: false,
      end: now,
      turn: null,
      from: 0,
      words: [],
    });
    this.cursor = now;
  }

  // ── Output ──

  private sendResults(r: {
    isFinal: boolean;
    speechFinal: boolean;
    fromFinalize: boolean;
    end: number;
    turn: Turn | null;
    from: number;
    words: WordOut[];
  }): void {
    const tokens = r.turn ? r.turn.line.slice(r.from, r.from + r.words.length) : [];
    const confidence = r.words.length > 0 ? round(r.words.reduce((s, w) => s + w.confidence, 0) / r.words.length) : 0;
    const last = r.words[r.words.length - 1];
    if (last) {
      this.lastWordEnd = last.end;
      this.utterancePending = true;
    }
    const msg = {
      type: "Results",
      channel_index: [0, this.config.channels],
      duration: round(Math.max(0, r.end - this.cursor)),
      start: round(this.cursor),
      is_final: r.isFinal,
      speech_final: r.speechFinal,
      from_finalize: r.fromFinalize,
      channel: {
        alternatives: [{ transcript: transcriptOf(tokens, this.format), confidence, words: r.words }],
      },
      metadata: { request_id: this.deps.requestId, model_info: this.info, model_uuid: this.modelId },
    };
    this.outbox.push(JSON.stringify(msg), r.isFinal ? this.deps.sttFinalDelayMs : 0);
  }

  private send(msg: object): void {
    this.outbox.push(JSON.stringify(msg));
  }

  // ── Lifecycle ──

  private touch(): void {
    this.lastActivity = performance.now();
  }

  private armIdle(delayMs: number): void {
    this.idleTimer = setTimeout(() => {
      const idle = performance.now() - this.lastActivity;
      if (idle >= this.deps.silenceTimeoutMs - 1) this.fail(1011, "NET-0001");
      else this.armIdle(this.deps.silenceTimeoutMs - idle);
    }, delayMs);
  }

  private async closeStream(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const turn = this.turn;
    if (turn && turn.windowSpeechStart !== null) {
      if (this.inSpeech && !this.orphanSegment) {
        turn.closedSpeechS += this.lastVoicedEnd - this.segStart;
        this.segStart = this.lastVoicedEnd;
      }
      this.emitFinal(this.streamTime, false, false);
    }
    this.send({
      type: "Metadata",
      transaction_key: "deprecated",
      request_id: this.deps.requestId,
      sha256: this.audioHash.digest("hex"),
      created: this.created,
      duration: round(this.streamTime),
      channels: this.config.channels,
      models: [this.modelId],
      model_info: { [this.modelId]: this.info },
    });
    await this.outbox.drained();
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(1000);
  }

  private fail(code: number, reason: string): void {
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
