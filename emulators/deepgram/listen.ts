// One live-transcription stream (/v1/listen): decode → VAD → scripted words, in Deepgram's message shapes.
import { createHash } from "node:crypto";
import type { WebSocket } from "ws";
import { z } from "zod";
import { CallerLines } from "./caller-lines.ts";
import type { ScriptLine } from "./line.ts";
import type { ListenConfig } from "./params.ts";
import { type FormatOptions, type ScriptBook, transcriptOf } from "./script.ts";
import { hashUnit, round, SpeechStreamSession } from "./session.ts";

// An energy VAD cannot tell pauses shorter than this from the gaps inside words, so endpointing never fires sooner.
const MIN_ENDPOINT_MS = 200;
// With endpointing=false results are still finalised (without speech_final) after this much silence.
const DISABLED_ENDPOINT_FINALIZE_MS = 500;
// At an endpoint, a scripted line is complete once this fraction of its expected length was spoken; otherwise the
// pause is taken as mid-sentence and the rest of the line waits for the next speech.
const CLOSE_FRACTION = 0.5;
// Long silences still produce (empty) finals, as the service does; clients must ignore them.
const SILENCE_FINAL_S = 5;

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

export class ListenSession extends SpeechStreamSession {
  private readonly audioHash = createHash("sha256");
  private readonly created = new Date().toISOString();
  private readonly format: FormatOptions;
  private readonly endpointGapS: number;
  private readonly lines: CallerLines;
  private readonly modelId: string;
  private readonly info: { name: string; version: string; arch: string };
  private turn: Turn | null = null;
  /** Speech that continues after Finalize completed its line; it belongs to no new line. */
  private orphanSegment = false;
  private cursor = 0;
  private lastWordEnd = 0;
  private utterancePending = false;

  constructor(
    ws: WebSocket,
    private readonly config: ListenConfig,
    private readonly deps: ListenDeps,
  ) {
    super(ws, {
      name: "listen",
      tags: config.tags,
      encoding: config.encoding,
      sampleRate: config.sampleRate,
      channels: config.channels,
      silenceTimeoutMs: deps.silenceTimeoutMs,
    });
    this.format = { punctuate: config.punctuate, smartFormat: config.smartFormat, numerals: config.numerals };
    this.endpointGapS =
      (config.endpointingMs === null
        ? DISABLED_ENDPOINT_FINALIZE_MS
        : Math.max(config.endpointingMs, MIN_ENDPOINT_MS)) / 1000;
    this.lines = new CallerLines(deps.scripts, config.tags, () => this.format);
    this.modelId = modelUuid(config.model);
    this.info = modelInfo(config.model);
  }

  // ── Input ──

  protected override heard(data: Buffer): void {
    this.audioHash.update(data);
  }

  protected onText(text: string): void {
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
    else if (msg.data.type === "CloseStream") this.closeStream();
  }

  // ── Voice activity, in stream time ──

  protected pauseGapS(): number {
    return this.endpointGapS;
  }

  protected afterFrame(now: number): void {
    if (this.inSpeech) this.maybeInterim(now);
    this.maybeUtteranceEnd(now);
    this.maybeSilenceFinal(now);
  }

  protected onset(start: number, _now: number): void {
    this.orphanSegment = false;
    if (this.config.vadEvents) {
      this.send({ type: "SpeechStarted", channel: [0, this.config.channels], timestamp: round(start) });
    }
    if (!this.turn) this.turn = this.newTurn();
    this.turn.segments++;
    if (this.turn.windowSpeechStart === null) this.turn.windowSpeechStart = start;
  }

  protected onPause(now: number): void {
    if (this.orphanSegment) {
      this.orphanSegment = false;
      return;
    }
    const turn = this.turn;
    if (!turn) return;
    turn.closedSpeechS += this.closeSegment();
    this.emitFinal(now, this.config.endpointingMs !== null, false);
  }

  // ── Lines and words ──

  private newTurn(): Turn {
    return { line: this.lines.next(), closedSpeechS: 0, shown: 0, segments: 0, windowSpeechStart: null };
  }

  private speechSeconds(turn: Turn): number {
    const open = this.inSpeech && !this.orphanSegment && this.turn === turn ? this.lastVoicedEnd - this.segStart : 0;
    return turn.closedSpeechS + open;
  }

  /** The default script is a guess the audio may overrule (caller-lines.ts). */
  private adjustDefaultLine(turn: Turn, speechS: number, atFinal: boolean): void {
    if (this.lines.overrule(turn.line, turn.segments, speechS, atFinal)) turn.shown = turn.line.committed;
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
    if (turn && this.inSpeech && !this.orphanSegment) turn.closedSpeechS += this.closeSegment();
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

  /** What was heard becomes a last final, then Metadata says what the stream was. */
  protected finish(): void {
    const turn = this.turn;
    if (turn && turn.windowSpeechStart !== null) {
      if (this.inSpeech && !this.orphanSegment) turn.closedSpeechS += this.closeSegment();
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
  }
}
