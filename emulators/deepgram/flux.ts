// One Flux stream (/v2/listen): decode → VAD → scripted words → turns, in Deepgram's TurnInfo shapes.
//
// Flux reports turns, not segments. Its end of turn is semantic: the emulator cannot recognise words, so the script
// is the semantics. Once speech pauses, an end-of-turn confidence grows with the silence, up to a ceiling set by what
// the caller has said: a finished line can reach any threshold, a line paused at a `…` (the caller is mid-sentence)
// stops at MID_SENTENCE_CEILING (above the usual eager threshold, below the end-of-turn one), and a part barely
// begun stops at HESITATION_CEILING (below every threshold). So a `…` pause gives EagerEndOfTurn, then TurnResumed
// when speech returns, and EndOfTurn only if the silence outlasts eot_timeout_ms.
import { performance } from "node:perf_hooks";
import type { WebSocket } from "ws";
import { z } from "zod";
import { PcmDecoder, parseWavHeader, wavEncoding } from "./audio.ts";
import { ScriptLine } from "./line.ts";
import { Outbox } from "./outbox.ts";
import { FLUX_LIMITS, type FluxConfig } from "./params.ts";
import {
  DEFAULT_CALLER_SCRIPT,
  expectedSeconds,
  type FormatOptions,
  type ScriptBook,
  type Token,
  tokenize,
} from "./script.ts";
import type { StreamHandle } from "./streams.ts";
import { FRAME_MS, FrameAnalyzer, type FrameStats, GARBAGE_RUN_FRAMES, looksLikeGarbage, NoiseFloor } from "./vad.ts";

const FRAME_S = FRAME_MS / 1000;
const ONSET_FRAMES = 6;
// Silence after the last voiced frame before speech counts as paused (shorter gaps are inside words).
const PAUSE_S = 0.1;
const UPDATE_INTERVAL_S = 0.25;
const CLOSE_FRACTION = 0.5;
const SHORT_LINE_S = 1.0;
const SHORT_BURST_S = 0.8;
const LONG_SPEECH_S = 1.5;
const CONTAINER_PROBE_LIMIT = 64 * 1024;
// A line counts as said in full once this fraction of its expected length was spoken.
const LATE_FRACTION = 0.9;
// A gap shorter than this after a line that ended early is a gap inside it, not the start of the next.
const SAME_LINE_GAP_S = 0.2;
// A pause in a barely begun default line is judged after this much silence (longer than a caller's comma pause).
const DEFAULT_DECISION_S = 0.4;

/** The thresholds the profile's eager and end-of-turn delays are stated for. */
export const REFERENCE_EAGER_THRESHOLD = 0.5;
export const REFERENCE_EOT_THRESHOLD = 0.7;
const MID_SENTENCE_CEILING = 0.6;
const HESITATION_CEILING = 0.2;
const FINISHED_CEILING = 0.95;

/**
 * End-of-turn confidence after `silenceMs` of silence following a finished line: it reaches the reference eager
 * threshold at `eagerMs`, the reference end-of-turn threshold at `eotMs`, and 0.9 (the highest threshold the service
 * accepts) after as long again twice over, so raising a threshold waits longer and lowering it answers sooner.
 */
export function endOfTurnConfidence(silenceMs: number, eagerMs: number, eotMs: number): number {
  const late = eotMs + 2 * (eotMs - eagerMs);
  const points: [number, number][] = [
    [0, 0],
    [eagerMs, REFERENCE_EAGER_THRESHOLD],
    [eotMs, REFERENCE_EOT_THRESHOLD],
    [late, 0.9],
    [late + 1_000, FINISHED_CEILING],
  ];
  if (silenceMs <= 0) return 0;
  for (let i = 1; i < points.length; i++) {
    const [x1, y1] = points[i] as [number, number];
    const [x0, y0] = points[i - 1] as [number, number];
    if (silenceMs <= x1) return x1 === x0 ? y1 : y0 + ((silenceMs - x0) / (x1 - x0)) * (y1 - y0);
  }
  return FINISHED_CEILING;
}

const Threshold = (min: number, max: number) => z.number().min(min).max(max);
const ConfigureMessage = z.object({
  type: z.literal("Configure"),
  thresholds: z
    .object({
      eager_eot_threshold: Threshold(FLUX_LIMITS.eagerEotThreshold.min, FLUX_LIMITS.eagerEotThreshold.max).optional(),
      eot_threshold: Threshold(FLUX_LIMITS.eotThreshold.min, FLUX_LIMITS.eotThreshold.max).optional(),
      eot_timeout_ms: z.number().int().min(FLUX_LIMITS.eotTimeoutMs.min).max(FLUX_LIMITS.eotTimeoutMs.max).optional(),
    })
    .strict()
    .optional(),
  keyterms: z.union([z.string(), z.array(z.string().max(1000)).max(100)]).optional(),
  language_hints: z.array(z.string()).max(20).optional(),
  numerals: z.boolean().optional(),
});
const ClientMessage = z.union([
  ConfigureMessage,
  z.object({ type: z.literal("ForceEndTurn") }),
  z.object({ type: z.literal("CloseStream") }),
]);

export interface FluxDeps {
  requestId: string;
  scripts: ScriptBook;
  /** Stream-time silence after a finished line at which the reference eager / end-of-turn thresholds are reached. */
  eagerMs: number;
  eotMs: number;
  silenceTimeoutMs: number;
}

interface FluxWord {
  word: string;
  confidence: number;
}

interface SpokenLine {
  line: ScriptLine;
  /** Words revealed so far (token count from the start of the line). */
  said: number;
  /** Revealed words as sent, by token index. */
  words: FluxWord[];
  closedSpeechS: number;
  segments: number;
  /** Word index where the current turn's share of this line begins. */
  turnFrom: number;
  /** Clause marks before this token were paused at already. */
  clausePassed: number;
  /** The line was taken as finished at a pause before its expected length was spoken. */
  endedEarly: boolean;
}

interface Turn {
  /** Words of lines finished earlier in this same turn (the caller went on after an EagerEndOfTurn). */
  earlier: FluxWord[];
  windowStart: number;
  started: boolean;
  eager: boolean;
  nextUpdate: number;
}

type PauseKind = "finished" | "mid-sentence" | "hesitation";

const round = (x: number): number => Math.round(x * 1000) / 1000;

function hashUnit(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0) / 4294967296;
}

export class FluxSession implements StreamHandle {
  readonly tags: readonly string[];
  private readonly outbox: Outbox;
  private format: FormatOptions;
  private thresholds: { eager: number | null; eot: number; timeoutMs: number };
  private keyterms: string[];
  private languageHints: string[];
  private readonly shortLines: string[];
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
  private spoken: SpokenLine | null = null;
  /** Speech that goes on after ForceEndTurn closed its line; it belongs to no line. */
  private orphan = false;
  private pause: { kind: PauseKind; ceiling: number; undecided: boolean } | null = null;
  /** Where the speech that opens the next turn began (stream seconds). */
  private turnSpeechStart = 0;
  private turn: Turn = this.freshTurn();
  private turnIndex = 0;
  private sequence = 0;
  private defaultIndex = 0;
  private shortIndex = 0;
  private lastActivity = performance.now();
  private idleTimer: NodeJS.Timeout | undefined;
  private closing = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly config: FluxConfig,
    private readonly deps: FluxDeps,
  ) {
    this.tags = config.tags;
    this.outbox = new Outbox(ws);
    this.format = { punctuate: true, smartFormat: false, numerals: config.numerals };
    this.thresholds = { eager: config.eagerEotThreshold, eot: config.eotThreshold, timeoutMs: config.eotTimeoutMs };
    this.keyterms = [...config.keyterms];
    this.languageHints = [...config.languageHints];
    this.shortLines = DEFAULT_CALLER_SCRIPT.filter((l) => expectedSeconds(tokenize(l, this.format)) <= SHORT_LINE_S);
    if (config.encoding) {
      this.decoder = new PcmDecoder(config.encoding, 1);
      this.analyzer = new FrameAnalyzer(config.sampleRate, (s) => this.onFrame(s));
    }
    ws.on("message", (data, isBinary) => {
      try {
        const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
        if (isBinary) this.onAudio(buf);
        else this.onText(buf.toString("utf8"));
      } catch (err) {
        console.error("deepgram emulator: flux stream failed", err);
        this.fail(1011, "NET-0000");
      }
    });
    ws.on("close", () => this.stop());
    ws.on("error", () => this.stop());
    this.send({ type: "Connected", request_id: deps.requestId });
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
    if (data.length === 0) {
      this.closeStream().catch((err: unknown) => console.error("deepgram emulator: CloseStream failed", err));
      return;
    }
    let payload: Buffer = data;
    if (!this.decoder) {
      const body = this.openContainer(data);
      if (!body) return;
      payload = body;
    }
    const pcm = this.decoder?.decode(payload);
    if (pcm) this.analyzer?.push(pcm);
  }

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
      this.unparsable("Text messages must be JSON.");
      return;
    }
    const msg = ClientMessage.safeParse(json);
    if (!msg.success) {
      // Anything else, including v1's KeepAlive and Finalize, is not a Flux message: the service closes the stream.
      const type = json && typeof json === "object" && "type" in json ? String(json.type) : "(none)";
      if (type === "Configure") {
        this.send({ type: "ConfigureFailure", request_id: this.deps.requestId });
        return;
      }
      this.unparsable(`Unknown or malformed message of type ${type}.`);
      return;
    }
    const m = msg.data;
    if (m.type === "Configure") this.configure(m);
    else if (m.type === "ForceEndTurn") this.forceEndTurn();
    else this.closeStream().catch((err: unknown) => console.error("deepgram emulator: CloseStream failed", err));
  }

  private unparsable(description: string): void {
    this.send({ type: "Error", code: "UNPARSABLE_CLIENT_MESSAGE", description });
    this.closing = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    void this.outbox.drained().then(() => {
      if (this.ws.readyState === this.ws.OPEN) this.ws.close(1008, "UNPARSABLE_CLIENT_MESSAGE");
    });
  }

  private configure(m: z.infer<typeof ConfigureMessage>): void {
    const t = m.thresholds ?? {};
    const next = {
      eager: t.eager_eot_threshold ?? this.thresholds.eager,
      eot: t.eot_threshold ?? this.thresholds.eot,
      timeoutMs: t.eot_timeout_ms ?? this.thresholds.timeoutMs,
    };
    const hintsRefused = m.language_hints !== undefined && this.config.model !== "flux-general-multi";
    if ((next.eager !== null && next.eager > next.eot) || hintsRefused) {
      this.send({ type: "ConfigureFailure", request_id: this.deps.requestId });
      return;
    }
    this.thresholds = next;
    if (m.keyterms !== undefined) this.keyterms = typeof m.keyterms === "string" ? [m.keyterms] : [...m.keyterms];
    if (m.language_hints !== undefined) this.languageHints = [...m.language_hints];
    if (m.numerals !== undefined) this.format = { ...this.format, numerals: m.numerals };
    this.send({
      type: "ConfigureSuccess",
      request_id: this.deps.requestId,
      thresholds: {
        ...(next.eager !== null ? { eager_eot_threshold: next.eager } : {}),
        eot_threshold: next.eot,
        eot_timeout_ms: next.timeoutMs,
      },
      keyterms: this.keyterms,
      ...(this.config.model === "flux-general-multi" ? { language_hints: this.languageHints } : {}),
    });
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
      if (this.inSpeech && t1 - this.lastVoicedEnd >= PAUSE_S - 1e-9) this.pauseBegins();
    }
    if (this.inSpeech) this.reveal(t1);
    else this.weighPause(t1);
    this.maybeUpdate(t1);
  }

  private onset(start: number, now: number): void {
    const gapS = start - this.lastVoicedEnd;
    this.inSpeech = true;
    this.segStart = start;
    this.lastVoicedEnd = now;
    this.orphan = false;
    this.pause = null;
    if (!this.turn.started) this.turnSpeechStart = start;
    if (this.turn.eager) {
      this.turn.eager = false;
      this.sendTurn("TurnResumed", 0.05);
    }
    const spoken = this.spoken;
    // A line taken as finished before its expected length, resumed after a gap too short to end a sentence, is the
    // same line going on (a gap inside "forty-eight thousand … thirteen"), not the caller's next line.
    const sameLine = spoken?.endedEarly === true && gapS < SAME_LINE_GAP_S;
    if (!spoken) this.spoken = this.newLine();
    else if (spoken.said >= spoken.line.length && !sameLine) {
      // The caller goes on after a finished line inside the same turn: the next line continues the turn.
      this.turn.earlier.push(...spoken.words.slice(spoken.turnFrom, spoken.said));
      this.spoken = this.newLine();
    }
    if (this.spoken) this.spoken.segments++;
  }

  private pauseBegins(): void {
    this.inSpeech = false;
    const spoken = this.spoken;
    if (this.orphan || !spoken) {
      this.orphan = false;
      return;
    }
    spoken.closedSpeechS += this.lastVoicedEnd - this.segStart;
    this.segStart = this.lastVoicedEnd;
    this.classifyPause(spoken, false);
  }

  /**
   * What the caller's pause means, from where it falls in the line: its end (the turn may end), a `…` (mid-sentence:
   * eager at most), or inside a clause or a barely begun part (hesitation: nothing but the timeout). A default line
   * is only a guess, so a pause in one that is barely begun is judged again at DEFAULT_DECISION_S, where a short
   * burst becomes a back-channel and anything else completes the line, as one utterance is one line on /v1/listen.
   */
  private classifyPause(spoken: SpokenLine, decisive: boolean): void {
    const speechS = spoken.closedSpeechS;
    const line = spoken.line;
    if (decisive) this.adjustDefaultLine(spoken, speechS, true);
    const spokenEnough = line.partSpoken(speechS) >= CLOSE_FRACTION;
    if (!spokenEnough && !decisive) {
      this.pause = { kind: "hesitation", ceiling: HESITATION_CEILING, undecided: line.source === "default" };
      this.maybeStartTurn();
      return;
    }
    const clause = spokenEnough ? line.clauseAt(speechS, spoken.clausePassed) : null;
    if (clause !== null) {
      spoken.clausePassed = clause;
      if (clause > spoken.said) this.revealTo(spoken, clause);
      this.pause = { kind: "hesitation", ceiling: HESITATION_CEILING, undecided: false };
      this.maybeStartTurn();
      return;
    }
    const end = line.partEnd();
    spoken.endedEarly = end >= line.length && line.partSpoken(speechS) < LATE_FRACTION;
    this.revealTo(spoken, end);
    line.commit(end, speechS);
    this.pause =
      end >= line.length
        ? { kind: "finished", ceiling: FINISHED_CEILING, undecided: false }
        : { kind: "mid-sentence", ceiling: MID_SENTENCE_CEILING, undecided: false };
    this.maybeStartTurn();
  }

  /** Once speech has paused: the turn ends, or is eagerly taken as ended, as the silence grows. */
  private weighPause(now: number): void {
    if (this.pause?.undecided && this.spoken && now - this.lastVoicedEnd >= DEFAULT_DECISION_S - 1e-9) {
      this.classifyPause(this.spoken, true);
    }
    const pause = this.pause;
    if (!pause || !this.turn.started) return;
    const silenceMs = (now - this.lastVoicedEnd) * 1000;
    const confidence = Math.min(pause.ceiling, endOfTurnConfidence(silenceMs, this.deps.eagerMs, this.deps.eotMs));
    const { eager, eot, timeoutMs } = this.thresholds;
    if (eager !== null && !this.turn.eager && confidence >= eager - 1e-9) {
      this.turn.eager = true;
      this.sendTurn("EagerEndOfTurn", confidence);
    }
    if (confidence >= eot - 1e-9) this.endTurn("model", confidence);
    else if (silenceMs >= timeoutMs - 1e-6) this.endTurn("timeout", confidence);
  }

  // ── Lines and words ──

  private newLine(): SpokenLine {
    const scripted = this.deps.scripts.take(this.config.tags);
    let text: string;
    let source: ScriptLine["source"] = "script";
    if (scripted !== undefined) text = scripted;
    else {
      text = DEFAULT_CALLER_SCRIPT[this.defaultIndex % DEFAULT_CALLER_SCRIPT.length] ?? "";
      this.defaultIndex++;
      source = "default";
    }
    return {
      line: new ScriptLine(text, source, this.format),
      said: 0,
      words: [],
      closedSpeechS: 0,
      segments: 0,
      turnFrom: 0,
      clausePassed: 0,
      endedEarly: false,
    };
  }

  /** The default script is a guess, so the audio may overrule it (the same rules as /v1/listen). */
  private adjustDefaultLine(spoken: SpokenLine, speechS: number, atPause: boolean): void {
    const line = spoken.line;
    if (line.source !== "default" || line.committed > 0) return;
    if (atPause && spoken.segments === 1 && speechS < SHORT_BURST_S && line.partExpectedS() > SHORT_LINE_S) {
      this.defaultIndex--;
      line.retarget(this.shortLines[this.shortIndex++ % this.shortLines.length] ?? "Okay.");
      // Words shown from the long line were a guess the burst overrules.
      spoken.words.length = 0;
      spoken.said = 0;
      return;
    }
    if (line.expectedS <= SHORT_LINE_S && speechS > LONG_SPEECH_S) {
      for (let i = 0; i < DEFAULT_CALLER_SCRIPT.length; i++) {
        const next = DEFAULT_CALLER_SCRIPT[this.defaultIndex % DEFAULT_CALLER_SCRIPT.length] ?? "";
        this.defaultIndex++;
        if (expectedSeconds(tokenize(next, this.format)) > SHORT_LINE_S) {
          line.retarget(next);
          spoken.words.length = 0;
          spoken.said = 0;
          return;
        }
      }
    }
  }

  private reveal(_now: number): void {
    const spoken = this.spoken;
    if (!spoken || this.orphan) return;
    const speechS = spoken.closedSpeechS + (this.lastVoicedEnd - this.segStart);
    this.adjustDefaultLine(spoken, speechS, false);
    const k = spoken.line.revealed(speechS);
    if (k > spoken.said) {
      this.revealTo(spoken, k);
      this.maybeStartTurn();
    }
  }

  private revealTo(spoken: SpokenLine, k: number): void {
    const tokens: Token[] = spoken.line.slice(spoken.said, k);
    tokens.forEach((tok, i) => {
      spoken.words.push({
        word: tok.punctuated,
        confidence: round(0.9 + 0.099 * hashUnit(`${tok.word}:${spoken.said + i}`)),
      });
    });
    spoken.said = Math.max(spoken.said, k);
  }

  private turnWords(): FluxWord[] {
    const spoken = this.spoken;
    const current = spoken ? spoken.words.slice(spoken.turnFrom, spoken.said) : [];
    return [...this.turn.earlier, ...current];
  }

  private maybeStartTurn(): void {
    if (this.turn.started) return;
    const spoken = this.spoken;
    if (!spoken || spoken.said <= spoken.turnFrom) return;
    this.turn.started = true;
    this.turn.windowStart = this.turnSpeechStart;
    this.turn.nextUpdate = this.streamTime + UPDATE_INTERVAL_S;
    this.sendTurn("StartOfTurn", 0.01);
  }

  private maybeUpdate(now: number): void {
    if (!this.turn.started || now < this.turn.nextUpdate - 1e-9) return;
    while (this.turn.nextUpdate <= now + 1e-9) this.turn.nextUpdate += UPDATE_INTERVAL_S;
    const pause = this.pause;
    const confidence = pause
      ? Math.min(
          pause.ceiling,
          endOfTurnConfidence((now - this.lastVoicedEnd) * 1000, this.deps.eagerMs, this.deps.eotMs),
        )
      : 0.02;
    this.sendTurn("Update", confidence);
  }

  private endTurn(trigger: "model" | "manual" | "timeout", confidence: number): void {
    if (this.turn.started) {
      this.sendTurn("EndOfTurn", confidence, trigger);
      this.turnIndex++;
    } else {
      // Nothing was said: the service still answers a ForceEndTurn with an (empty) EndOfTurn.
      this.sendTurn("EndOfTurn", confidence, trigger);
    }
    this.turn = this.freshTurn();
    this.pause = null;
    const spoken = this.spoken;
    if (!spoken) return;
    if (spoken.said >= spoken.line.length) {
      this.spoken = null;
      this.orphan = this.inSpeech;
    } else {
      const speechS = spoken.closedSpeechS + (this.inSpeech ? this.lastVoicedEnd - this.segStart : 0);
      spoken.line.commit(spoken.said, speechS);
      spoken.turnFrom = spoken.said;
    }
  }

  private forceEndTurn(): void {
    // What was said so far closes the turn, as if the caller had stopped here.
    const spoken = this.spoken;
    if (spoken && this.inSpeech && !this.orphan) {
      const speechS = spoken.closedSpeechS + (this.lastVoicedEnd - this.segStart);
      const k = spoken.line.revealed(speechS);
      if (k > spoken.said) this.revealTo(spoken, k);
      this.maybeStartTurn();
    }
    this.endTurn("manual", 1);
  }

  private freshTurn(): Turn {
    return { earlier: [], windowStart: 0, started: false, eager: false, nextUpdate: 0 };
  }

  // ── Output ──

  private sendTurn(event: string, confidence: number, trigger?: string): void {
    const words = this.turnWords();
    this.send({
      type: "TurnInfo",
      request_id: this.deps.requestId,
      event,
      turn_index: this.turnIndex,
      audio_window_start: round(this.turn.started ? this.turn.windowStart : this.streamTime),
      audio_window_end: round(this.streamTime),
      transcript: words.map((w) => w.word).join(" "),
      words,
      end_of_turn_confidence: round(confidence),
      ...(trigger ? { trigger } : {}),
    });
  }

  private send(msg: Record<string, unknown>): void {
    // sequence_id counts every server message, Connected included; a stalled stream sends none.
    if (this.outbox.muted) return;
    const { type, ...rest } = msg;
    this.outbox.push(JSON.stringify({ type, ...rest, sequence_id: this.sequence++ }));
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

  /** Flushes what was heard as a last Update (never an EndOfTurn), then closes normally. */
  private async closeStream(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const spoken = this.spoken;
    if (spoken && this.inSpeech && !this.orphan) {
      const k = spoken.line.revealed(spoken.closedSpeechS + (this.lastVoicedEnd - this.segStart));
      if (k > spoken.said) this.revealTo(spoken, k);
      this.maybeStartTurn();
    }
    if (this.turn.started) this.sendTurn("Update", 0.02);
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
