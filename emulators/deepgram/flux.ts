// One Flux stream (/v2/listen): decode → VAD → scripted words → turns, in Deepgram's TurnInfo shapes.
//
// Flux reports turns, not segments. Its end of turn is semantic: the emulator cannot recognise words, so the script
// is the semantics. Once speech pauses, an end-of-turn confidence grows with the silence, up to a ceiling set by what
// the caller has said: a finished line can reach any threshold, a line paused at a `…` (the caller is mid-sentence)
// stops at MID_SENTENCE_CEILING (above the usual eager threshold, below the end-of-turn one), and a part barely
// begun stops at HESITATION_CEILING (below every threshold). So a `…` pause gives EagerEndOfTurn, then TurnResumed
// when speech returns, and EndOfTurn only if the silence outlasts eot_timeout_ms.
import type { WebSocket } from "ws";
import { CallerLines } from "./caller-lines.ts";
import { endOfTurnConfidence, FINISHED_CEILING, HESITATION_CEILING, MID_SENTENCE_CEILING } from "./flux-confidence.ts";
import { type ConfigureMessage, decodeClientMessage } from "./flux-wire.ts";
import type { ScriptLine } from "./line.ts";
import type { FluxConfig } from "./params.ts";
import type { FormatOptions, ScriptBook, Token } from "./script.ts";
import { hashUnit, round, SpeechStreamSession } from "./session.ts";

// Silence after the last voiced frame before speech counts as paused (shorter gaps are inside words).
const PAUSE_S = 0.1;
const UPDATE_INTERVAL_S = 0.25;
const CLOSE_FRACTION = 0.5;
// A line counts as said in full once this fraction of its expected length was spoken.
const LATE_FRACTION = 0.9;
// A gap shorter than this after a line that ended early is a gap inside it, not the start of the next.
const SAME_LINE_GAP_S = 0.2;
// A pause in a barely begun default line is judged after this much silence (longer than a caller's comma pause).
const DEFAULT_DECISION_S = 0.4;

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

export class FluxSession extends SpeechStreamSession {
  private format: FormatOptions;
  private thresholds: { eager: number | null; eot: number; timeoutMs: number };
  private keyterms: string[];
  private languageHints: string[];
  private readonly lines: CallerLines;
  private spoken: SpokenLine | null = null;
  /** Speech that goes on after ForceEndTurn closed its line; it belongs to no line. */
  private orphan = false;
  private pause: { kind: PauseKind; ceiling: number; undecided: boolean } | null = null;
  /** Where the speech that opens the next turn began (stream seconds). */
  private turnSpeechStart = 0;
  private turn: Turn = this.freshTurn();
  private turnIndex = 0;
  private sequence = 0;

  constructor(
    ws: WebSocket,
    private readonly config: FluxConfig,
    private readonly deps: FluxDeps,
  ) {
    super(ws, {
      name: "flux",
      tags: config.tags,
      encoding: config.encoding,
      sampleRate: config.sampleRate,
      channels: 1,
      silenceTimeoutMs: deps.silenceTimeoutMs,
    });
    this.format = { punctuate: true, smartFormat: false, numerals: config.numerals };
    this.thresholds = { eager: config.eagerEotThreshold, eot: config.eotThreshold, timeoutMs: config.eotTimeoutMs };
    this.keyterms = [...config.keyterms];
    this.languageHints = [...config.languageHints];
    this.lines = new CallerLines(deps.scripts, config.tags, () => this.format);
    this.send({ type: "Connected", request_id: deps.requestId });
  }

  // ── Input ──

  protected onText(text: string): void {
    const decoded = decodeClientMessage(text);
    if ("unparsable" in decoded) this.unparsable(decoded.unparsable);
    else if ("configureFailure" in decoded) this.send({ type: "ConfigureFailure", request_id: this.deps.requestId });
    else if (decoded.message.type === "Configure") this.configure(decoded.message);
    else if (decoded.message.type === "ForceEndTurn") this.forceEndTurn();
    else this.closeStream();
  }

  private unparsable(description: string): void {
    this.send({ type: "Error", code: "UNPARSABLE_CLIENT_MESSAGE", description });
    this.closeAfterDrain(1008, "UNPARSABLE_CLIENT_MESSAGE");
  }

  private configure(m: ConfigureMessage): void {
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

  protected pauseGapS(): number {
    return PAUSE_S;
  }

  protected afterFrame(now: number): void {
    if (this.inSpeech) this.reveal(now);
    else this.weighPause(now);
    this.maybeUpdate(now);
  }

  protected onset(start: number, _now: number, gapS: number): void {
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

  protected onPause(): void {
    const spoken = this.spoken;
    if (this.orphan || !spoken) {
      this.orphan = false;
      return;
    }
    spoken.closedSpeechS += this.closeSegment();
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
    return {
      line: this.lines.next(),
      said: 0,
      words: [],
      closedSpeechS: 0,
      segments: 0,
      turnFrom: 0,
      clausePassed: 0,
      endedEarly: false,
    };
  }

  /** The default script is a guess the audio may overrule (caller-lines.ts, the same rules as /v1/listen). */
  private adjustDefaultLine(spoken: SpokenLine, speechS: number, atPause: boolean): void {
    if (this.lines.overrule(spoken.line, spoken.segments, speechS, atPause)) {
      // Words shown from the guessed line were a guess the audio overrules.
      spoken.words.length = 0;
      spoken.said = 0;
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

  /** Flushes what was heard as a last Update (never an EndOfTurn). */
  protected finish(): void {
    const spoken = this.spoken;
    if (spoken && this.inSpeech && !this.orphan) {
      const k = spoken.line.revealed(spoken.closedSpeechS + (this.lastVoicedEnd - this.segStart));
      if (k > spoken.said) this.revealTo(spoken, k);
      this.maybeStartTurn();
    }
    if (this.turn.started) this.sendTurn("Update", 0.02);
  }
}
