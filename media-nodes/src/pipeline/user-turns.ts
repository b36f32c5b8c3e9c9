// Turn detection: the caller's side of the conversation, from the recognizer's events, the VAD's state and
// whether the agent is audible. It decides three things and says them as typed events: the caller started
// speaking; the caller's turn ended (its text and when their speech ended); the caller is interrupting the
// agent. Words heard over the agent that do not pass the agent's thresholds (a back-channel, the agent's own
// echo) are not a turn. Deepgram Flux's eager and resumed ends arrive here as more event kinds (issue 10).
import type { BargeInPolicy } from "../../../shared/agent-config.ts";
import type { SttEvent, SttWord } from "../providers/types.ts";
import { BargeInPolicyEvaluator, normalizeWords } from "./barge-in.ts";

const NO_WORDS = Object.freeze({ heard: 0, meaningful: 0 });

export type UserTurnEvent =
  /** The VAD heard the caller start speaking (the onset; a pause-first barge-in starts here). */
  | { type: "speech-started"; at: number }
  /** The caller finished a turn. `speechEndAt` is when they stopped (VAD), `sttFinalAt` when we knew. */
  | { type: "turn-ended"; text: string; speechEndAt: number; sttFinalAt: number }
  /** The caller's words over the agent passed its thresholds: stop the agent. */
  | { type: "interruption"; detectedAt: number };

/** What turn detection reads from the rest of the call, at the moment it decides. */
export interface UserTurnsView {
  agentAudible(now: number): boolean;
  /** What the caller may be hearing of the agent now (its echo is not the caller). */
  agentSentence(): string;
  /** Continuous caller speech so far by the VAD (0 when silent). */
  vadSpeechMs(now: number): number;
  /** The VAD's last voiced frame (arrival time). */
  lastVoicedAt(): number;
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

  constructor(policy: BargeInPolicy, view: UserTurnsView, emit: (event: UserTurnEvent) => void) {
    this.#policy = new BargeInPolicyEvaluator(policy);
    this.#view = view;
    this.#emit = emit;
  }

  /** A handoff brings the other agent's thresholds. */
  setPolicy(policy: BargeInPolicy): void {
    this.#policy = new BargeInPolicyEvaluator(policy);
  }

  /** Once per caller frame, with the VAD's verdict on it. Allocates nothing unless something is decided. */
  onFrame(now: number, speaking: boolean): void {
    if (speaking !== this.#speaking) {
      this.#speaking = speaking;
      if (speaking) this.#emit({ type: "speech-started", at: now });
    }
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
          }
        }
        if (event.speechFinal) this.#endOfUtterance(now);
        return;
      }
      case "utterance-end":
        this.#endOfUtterance(now);
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
    if (this.#overSpeech.length === 0 && !this.#interim) return NO_WORDS;
    const pieces = this.#interim ? [...this.#overSpeech, this.#interim] : this.#overSpeech;
    const text = pieces.map((p) => p.text).join(" ");
    return {
      heard: normalizeWords(text).length,
      meaningful: this.#policy.meaningfulWords(text, this.#view.agentSentence()).length,
    };
  }

  #maybeInterrupt(now: number): void {
    const pieces = this.#interim ? [...this.#overSpeech, this.#interim] : this.#overSpeech;
    if (pieces.length === 0) return;
    const interrupt = this.#policy.shouldInterrupt({
      callerText: pieces.map((p) => p.text).join(" "),
      words: pieces.flatMap((p) => p.words),
      vadSpeechMs: this.#view.vadSpeechMs(now),
      agentSentence: this.#view.agentSentence(),
    });
    if (!interrupt) return;
    this.#interrupting = true;
    this.#finals.push(...this.#overSpeech);
    this.#overSpeech = [];
    this.#emit({ type: "interruption", detectedAt: now });
  }

  #endOfUtterance(now: number): void {
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
    // The VAD knows when the caller stopped; without it (an inaudible line), the last final is the best we have.
    const vadEnd = this.#view.lastVoicedAt();
    const speechEndAt = now - vadEnd < 3_000 ? Math.min(vadEnd + 20, now) : this.#lastFinalAt;
    this.#emit({ type: "turn-ended", text, speechEndAt, sttFinalAt: now });
  }
}
