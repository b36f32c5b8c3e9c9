// Turn detection: the caller's side of the conversation, from the recognizer's events, the VAD's state and
// whether the agent is audible. It decides three things and says them as typed events: the caller started
// speaking; the caller's turn ended (its text and when their speech ended); the caller is interrupting the
// agent. Words heard over the agent that do not pass the agent's thresholds (a back-channel, the agent's own
// echo) are not a turn.
//
// A turn ends in two steps (speculate, then commit): an eager end (Flux `turn-eager-end`; with Nova-3, 150 ms of
// VAD silence after speech, a `finalize()` and its words) says "probably over" and a speculative reply may start;
// speech again (Flux `turn-resumed`, or the VAD) takes it back; the end of the turn confirms it. On Nova-3, whose
// end is silence alone, words that end unfinished ("my number is", "um") are held up to the agent's
// `completenessHoldMs` for more speech. A caller reading out digits, an email address or a spelled code makes Flux
// wait longer (`configure()`), until the turn ends.
import type { BargeInPolicy, TurnTaking } from "../../../shared/agent-config.ts";
import type { SttEvent, SttSession, SttWord, TurnThresholds } from "../providers/types.ts";
import { isReadingOut, judgeCompleteness } from "../turns/completeness.ts";
import { BargeInPolicyEvaluator, JoinedWords } from "./barge-in.ts";

const NO_WORDS = Object.freeze({ heard: 0, meaningful: 0 });

/** Local-VAD silence after speech before a Nova-3 session is asked for its words (the eager end). */
export const EAGER_SILENCE_MS = 150;
/** Nova-3: silence after a finalized, finished phrase that ends the turn (the recogniser's own endpointing). */
export const ENDPOINT_SILENCE_MS = 300;
/** Two frames without caller audio: it has stopped arriving, not just jittered. */
const FRAME_GAP_MS = 40;
/**
 * Thresholds while the caller reads something out (digits, an email address, a spelled code): a pause between its
 * pieces is not the end of the turn.
 */
export const READING_THRESHOLDS: Partial<TurnThresholds> = { eagerEotThreshold: 0.8, eotThreshold: 0.9 };

export type UserTurnEvent =
  /** The VAD heard the caller start speaking (the onset; a pause-first barge-in starts here). */
  | { type: "speech-started"; at: number }
  /** The caller finished a turn. `speechEndAt` is when they stopped (VAD), `sttFinalAt` when we knew. */
  | { type: "turn-ended"; text: string; speechEndAt: number; sttFinalAt: number }
  /** The caller's words over the agent passed its thresholds: stop the agent. */
  | { type: "interruption"; detectedAt: number }
  /** The caller has probably finished `text` (eager end of turn): a reply may be prepared, not played. */
  | { type: "eager-end"; text: string; speechEndAt: number }
  /** The caller went on after an eager end: drop what was prepared. */
  | { type: "resumed"; at: number };

/** What turn detection reads from the rest of the call, at the moment it decides. */
export interface UserTurnsView {
  agentAudible(now: number): boolean;
  /** What the caller may be hearing of the agent now (its echo is not the caller). */
  agentSentence(): string;
  /** Continuous caller speech so far by the VAD (0 when silent). */
  vadSpeechMs(now: number): number;
  /** The VAD's last voiced frame (arrival time). */
  lastVoicedAt(): number;
  /** The recogniser session, once open: turn detection reads its kind, finalizes it and tunes it. */
  session?(): Pick<SttSession, "turnDetection" | "finalize" | "configure"> | undefined;
}

/** The agent's turn-taking settings that turn detection applies (`shared/agent-config.ts`). */
export interface TurnSettings {
  turnTaking: TurnTaking;
  language: string;
}

interface Piece {
  text: string;
  words: SttWord[];
}

export class UserTurns {
  #policy: BargeInPolicyEvaluator;
  readonly #view: UserTurnsView;
  readonly #emit: (event: UserTurnEvent) => void;
  /** Finals of the utterance in progress that belong to the caller's next turn. */
  #finals: Piece[] = [];
  /** Finals heard while the agent was audible and not (yet) counted as an interruption. */
  #overSpeech: Piece[] = [];
  #interim: Piece | undefined;
  /** The utterance in progress already interrupted the agent. */
  #interrupting = false;
  #lastFinalAt = 0;
  #speaking = false;
  #settings: TurnSettings | undefined;
  /** Speech heard since the last turn ended (the VAD's). */
  #heardSpeech = false;
  /** When the last caller frame arrived (the pacer's tick takes over the silence judgement once they stop). */
  #lastFrameAt = Number.NEGATIVE_INFINITY;
  /** The VAD's last voiced frame when finalize() was asked: a later one means the caller went on. */
  #askedAtVoice = 0;
  /** Nova-3: how long the finals so far may wait for more speech (unset until judged). */
  #holdMs: number | undefined;
  /** Nova-3: finalize() asked for this silence; its final ends the eager step. */
  #finalizeAsked = false;
  #finalized = false;
  /** An eager end was announced and neither resumed nor ended since. */
  #eager = false;
  /** Flux thresholds are raised for something being read out. */
  #raised = false;
  /** The words over the agent, joined once per change: read every frame of over-speech and tick of a pause. */
  readonly #over = new JoinedWords();

  constructor(
    policy: BargeInPolicy,
    view: UserTurnsView,
    emit: (event: UserTurnEvent) => void,
    settings?: TurnSettings,
  ) {
    this.#policy = new BargeInPolicyEvaluator(policy);
    this.#view = view;
    this.#emit = emit;
    this.#settings = settings;
  }

  /** A handoff brings the other agent's turn-taking settings. */
  setTurnSettings(settings: TurnSettings): void {
    this.#settings = settings;
  }

  /** A handoff brings the other agent's thresholds. */
  setPolicy(policy: BargeInPolicy): void {
    this.#policy = new BargeInPolicyEvaluator(policy);
  }

  /** Once per caller frame, with the VAD's verdict on it. Allocates nothing unless something is decided. */
  /**
   * On the pacer's tick. Nova-3's end of turn is judged on silence, and a caller whose audio stops altogether (a
   * browser that stops sending, a carrier gap) makes no frames to judge it by: the clock goes on regardless.
   */
  tick(now: number): void {
    // While frames arrive, onFrame already judges it each frame: the tick only covers audio that stopped.
    if (now - this.#lastFrameAt < FRAME_GAP_MS) return;
    if (this.#heardSpeech && this.#endpointing()) this.#endpointingTick(now);
  }

  onFrame(now: number, speaking: boolean): void {
    this.#lastFrameAt = now;
    if (speaking !== this.#speaking) {
      this.#speaking = speaking;
      if (speaking) {
        this.#heardSpeech = true;
        this.#emit({ type: "speech-started", at: now });
      }
    }
    if (this.#heardSpeech && this.#endpointing()) this.#endpointingTick(now);
    if (
      speaking &&
      !this.#interrupting &&
      (this.#overSpeech.length > 0 || this.#interim) &&
      this.#view.agentAudible(now)
    ) {
      this.#maybeInterrupt(now);
    }
  }

  onStt(event: SttEvent, now: number): void {
    switch (event.type) {
      case "interim":
        this.#interim = event.text.trim() ? { text: event.text, words: event.words } : undefined;
        if (this.#interim && !this.#endpointing()) this.#waitForReading(event.text);
        if (this.#interim && !this.#interrupting && this.#view.agentAudible(now)) this.#maybeInterrupt(now);
        return;
      case "final": {
        this.#interim = undefined;
        if (event.text.trim()) {
          this.#lastFinalAt = now;
          const piece = { text: event.text.trim(), words: event.words };
          if (!this.#interrupting && this.#view.agentAudible(now)) {
            this.#overSpeech.push(piece);
            this.#maybeInterrupt(now);
          } else {
            this.#finals.push(piece);
            this.#holdMs = undefined;
          }
        }
        if (event.fromFinalize && this.#finalizeAsked && this.#endpointing()) {
          this.#finalized = true;
          this.#eagerFromFinals(now);
        }
        if (event.speechFinal) this.#recognizerEnd(now);
        return;
      }
      case "utterance-end":
        this.#recognizerEnd(now);
        return;
      case "turn-eager-end": {
        const text = event.text.trim();
        if (!text || this.#waitForReading(text)) return;
        if (this.#interrupting || this.#overSpeech.length > 0 || this.#view.agentAudible(now)) return;
        this.#eager = true;
        this.#emit({ type: "eager-end", text, speechEndAt: this.#speechEndAt(now) });
        return;
      }
      case "turn-resumed":
        this.#resume(now);
        return;
      case "turn-started":
        // Flux's start of turn carries the first words: until its updates follow, they are the interim. Words of
        // the caller's own over the agent hold a barge-in pause through the gaps between them (wordsOverAgent).
        if (!event.text.trim()) return;
        this.#interim = { text: event.text, words: [] };
        if (!this.#interrupting && this.#view.agentAudible(now)) this.#maybeInterrupt(now);
        return;
      default:
        return;
    }
  }

  /**
   * What the recognizer has made so far of the caller's words over the agent in this utterance: how many words
   * it heard, and how many of them would count towards an interruption (not a back-channel, not the agent's
   * echo). A barge-in pause decides on them.
   */
  wordsOverAgent(): { heard: number; meaningful: number } {
    const over = this.#over.of(this.#overSpeech, this.#interim);
    if (!over) return NO_WORDS;
    return {
      heard: over.heard,
      meaningful: this.#policy.meaningfulCount(over.text, this.#view.agentSentence()),
    };
  }

  #maybeInterrupt(now: number): void {
    const over = this.#over.of(this.#overSpeech, this.#interim);
    if (!over) return;
    const interrupt = this.#policy.shouldInterrupt({
      callerText: over.text,
      words: over.words,
      vadSpeechMs: this.#view.vadSpeechMs(now),
      agentSentence: this.#view.agentSentence(),
    });
    if (!interrupt) return;
    this.#interrupting = true;
    this.#finals.push(...this.#overSpeech);
    this.#overSpeech = [];
    this.#emit({ type: "interruption", detectedAt: now });
  }

  /**
   * The recogniser's end of utterance. Nova-3's is silence alone, and its UtteranceEnd may come while the caller
   * has already gone on: the endpointing tick ends the turn once the VAD has heard enough silence (the hold, for
   * words that end unfinished). Words heard over the agent, or a caller the VAD does not hear, end it at once.
   */
  #recognizerEnd(now: number): void {
    if (this.#endpointing() && this.#heardSpeech && this.#overSpeech.length === 0) {
      if (!this.#finalized) this.#askedAtVoice = this.#view.lastVoicedAt();
      this.#finalized = true;
      this.#endpointingTick(now);
      return;
    }
    this.#endOfUtterance(now);
  }

  #endpointing(): boolean {
    return this.#view.session?.()?.turnDetection === "endpointing";
  }

  #resume(now: number): void {
    if (!this.#eager) return;
    this.#eager = false;
    this.#emit({ type: "resumed", at: now });
  }

  /**
   * Nova-3, while the caller is silent: at 150 ms ask the recogniser for its words (the eager end), and once they
   * are in, end the turn at the endpointing silence if they read finished, or after the hold if they do not.
   */
  #endpointingTick(now: number): void {
    // The VAD's own speaking flag trails speech by its hangover; silence counts from the last voiced frame.
    const lastVoiced = this.#view.lastVoicedAt();
    if ((this.#finalizeAsked || this.#finalized) && lastVoiced > this.#askedAtVoice) {
      // The caller went on after the eager end (Flux says so itself, with turn-resumed).
      this.#finalizeAsked = false;
      this.#finalized = false;
      this.#resume(now);
    }
    const silentMs = now - lastVoiced;
    if (!this.#finalizeAsked && !this.#finalized) {
      if (silentMs < EAGER_SILENCE_MS || this.#view.agentAudible(now) || this.#interrupting) return;
      this.#finalizeAsked = true;
      this.#askedAtVoice = lastVoiced;
      this.#view.session?.()?.finalize();
      // The words so far need not wait for the Finalize's answer (the recogniser's final latency): if they read
      // finished, the speculation starts on them now, and the finalized words confirm or replace it.
      this.#eagerFrom(now, this.#interim ? [...this.#finals, this.#interim] : this.#finals);
      return;
    }
    if (!this.#finalized || this.#finals.length === 0 || this.#overSpeech.length > 0) return;
    // Judged once per set of finals, not per frame.
    if (this.#holdMs === undefined) {
      const text = this.#finals.map((f) => f.text).join(" ");
      this.#holdMs = judgeCompleteness(text, this.#settings?.language ?? "en").complete
        ? ENDPOINT_SILENCE_MS
        : Math.max(ENDPOINT_SILENCE_MS, this.#settings?.turnTaking.completenessHoldMs ?? ENDPOINT_SILENCE_MS);
    }
    if (silentMs >= this.#holdMs) this.#endOfUtterance(now);
  }

  /** Nova-3: the finalized words are the eager text, if they read finished (unfinished words are held, not guessed). */
  #eagerFromFinals(now: number): void {
    // Started on the interim words, which the final did not bear out (they now read unfinished): drop it.
    if (!this.#eagerFrom(now, this.#finals) && this.#eager) this.#resume(now);
  }

  /** Nova-3's eager end on `pieces`, if they read finished and the agent is not talking. Returns whether it spoke. */
  #eagerFrom(now: number, pieces: readonly Piece[]): boolean {
    if (pieces.length === 0 || this.#interrupting || this.#overSpeech.length > 0) return false;
    if (this.#view.agentAudible(now)) return false;
    const text = pieces.map((f) => f.text).join(" ");
    if (!judgeCompleteness(text, this.#settings?.language ?? "en").complete) return false;
    this.#eager = true;
    this.#emit({ type: "eager-end", text, speechEndAt: this.#speechEndAt(now) });
    return true;
  }

  /**
   * Flux: while the caller reads something out (a phone number, a card, an email address, a spelled code), a pause
   * between its pieces looks like an end of turn. Raise the thresholds until the turn ends. Returns whether the text
   * is such a turn.
   */
  #waitForReading(text: string): boolean {
    const settings = this.#settings;
    if (!settings) return false;
    const reading = isReadingOut(judgeCompleteness(text, settings.language).reason);
    if (reading && !this.#raised) {
      const session = this.#view.session?.();
      if (session?.turnDetection !== "semantic") return reading;
      this.#raised = true;
      const t = settings.turnTaking;
      const raised: Partial<TurnThresholds> = {
        eotThreshold: Math.max(t.eotThreshold, READING_THRESHOLDS.eotThreshold ?? 0.9),
        ...(t.eagerEotThreshold !== null
          ? { eagerEotThreshold: Math.max(t.eagerEotThreshold, READING_THRESHOLDS.eagerEotThreshold ?? 0.8) }
          : {}),
      };
      session.configure(raised).catch(() => {
        // Refused or unanswered: the agent's thresholds stay, and the completeness check still holds no eager reply.
      });
    }
    return reading;
  }

  /** The turn is over: thresholds raised for it go back to the agent's. */
  #restoreThresholds(): void {
    if (!this.#raised) return;
    this.#raised = false;
    const t = this.#settings?.turnTaking;
    const session = this.#view.session?.();
    if (!t || session?.turnDetection !== "semantic") return;
    session
      .configure({
        eotThreshold: t.eotThreshold,
        eotTimeoutMs: t.eotTimeoutMs,
        ...(t.eagerEotThreshold !== null ? { eagerEotThreshold: t.eagerEotThreshold } : {}),
      })
      .catch(() => {});
  }

  #speechEndAt(now: number): number {
    // The VAD knows when the caller stopped; without it (an inaudible line), the last final is the best we have.
    const vadEnd = this.#view.lastVoicedAt();
    return now - vadEnd < 3_000 ? Math.min(vadEnd + 20, now) : this.#lastFinalAt || now;
  }

  #endOfUtterance(now: number): void {
    this.#eager = false;
    this.#holdMs = undefined;
    this.#heardSpeech = false;
    this.#finalizeAsked = false;
    this.#finalized = false;
    this.#restoreThresholds();
    // Heard over the agent and not an interruption: a back-channel or the agent's echo, not a turn. Unless the
    // agent has finished meanwhile and the caller said something of their own: that is an answer.
    if (this.#overSpeech.length > 0 && !this.#view.agentAudible(now)) {
      const text = this.#overSpeech.map((p) => p.text).join(" ");
      if (this.#policy.meaningfulWords(text, this.#view.agentSentence()).length > 0) {
        this.#finals.push(...this.#overSpeech);
      }
    }
    this.#overSpeech = [];
    this.#interrupting = false;
    if (this.#finals.length === 0) return;
    const text = this.#finals.map((f) => f.text).join(" ");
    this.#finals = [];
    this.#emit({ type: "turn-ended", text, speechEndAt: this.#speechEndAt(now), sttFinalAt: now });
  }
}
