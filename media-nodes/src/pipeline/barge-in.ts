// Deciding whether the caller is interrupting the agent or just listening. The caller interrupts when,
// while the agent is audible, they have spoken long enough (policy.minDurationMs, from the VAD or the
// recognized words' timing) AND said enough words (policy.minWords) that are neither back-channels
// ("uh-huh", "okay") nor words of the agent's own current sentence (its echo, recognized back).
import type { BargeInPolicy } from "../../../shared/agent-config.ts";
import type { SttWord } from "../providers/types.ts";

export function normalizeWords(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[-‐–—]/g, " ")
    .replace(/[^\p{L}\p{N}'\s]/gu, " ")
    .split(/\s+/)
    .filter((w) => w.length > 0);
}

export class BargeInPolicyEvaluator {
  /** Back-channel phrases as word sequences, longest first so "uh huh" wins over "uh". */
  readonly #phrases: string[][];

  constructor(readonly policy: BargeInPolicy) {
    this.#phrases = policy.backchannels
      .map(normalizeWords)
      .filter((p) => p.length > 0)
      .sort((a, b) => b.length - a.length);
  }

  /** The caller's words that count towards an interruption. */
  meaningfulWords(callerText: string, agentSentence: string): string[] {
    const words = normalizeWords(callerText);
    const echo = new Set(normalizeWords(agentSentence));
    const out: string[] = [];
    for (let i = 0; i < words.length; ) {
      const phrase = this.#phrases.find((p) => p.every((w, k) => words[i + k] === w));
      if (phrase) {
        i += phrase.length;
        continue;
      }
      if (!echo.has(words[i]!)) out.push(words[i]!);
      i += 1;
    }
    return out;
  }

  /**
   * How many of the caller's words count, for the same texts as last time without working it out again: turn
   * detection asks every frame while the caller talks over the agent, and the texts change only with the recognizer's
   * results and the agent's next clause.
   */
  meaningfulCount(callerText: string, agentSentence: string): number {
    const last = this.#last;
    if (last && last.callerText === callerText && last.agentSentence === agentSentence) return last.count;
    const count = this.meaningfulWords(callerText, agentSentence).length;
    this.#last = { callerText, agentSentence, count };
    return count;
  }

  #last: { callerText: string; agentSentence: string; count: number } | undefined;

  /** True when the caller's utterance is nothing but back-channel phrases. */
  isBackchannel(callerText: string): boolean {
    const words = normalizeWords(callerText);
    return words.length > 0 && this.meaningfulWords(callerText, "").length === 0;
  }

  shouldInterrupt(input: {
    callerText: string;
    words: readonly SttWord[];
    vadSpeechMs: number;
    agentSentence: string;
  }): boolean {
    if (this.meaningfulCount(input.callerText, input.agentSentence) < this.policy.minWords) return false;
    const first = input.words[0];
    const last = input.words[input.words.length - 1];
    const wordSpanMs = first && last ? (last.end - first.start) * 1000 : 0;
    return Math.max(input.vadSpeechMs, wordSpanMs) >= this.policy.minDurationMs;
  }
}

interface Piece {
  text: string;
  words: SttWord[];
}

/** Pieces of what the caller said (finals, then the interim), joined. */
export interface Joined {
  text: string;
  words: SttWord[];
  /** How many words were heard. */
  heard: number;
}

/**
 * Joins the caller's pieces once per change of them: turn detection reads them every frame while the caller talks
 * over the agent, and every tick of a barge-in pause, but they change only with the recognizer's results. The
 * finals' list only grows or is replaced, and each interim is a new object.
 */
export class JoinedWords {
  #finals: Piece[] | undefined;
  #count = -1;
  #interim: Piece | undefined;
  #joined: Joined | undefined;

  of(finals: Piece[], interim: Piece | undefined): Joined | undefined {
    if (finals.length === 0 && !interim) return undefined;
    if (this.#joined && finals === this.#finals && finals.length === this.#count && interim === this.#interim)
      return this.#joined;
    const pieces = interim ? [...finals, interim] : finals;
    const text = pieces.map((p) => p.text).join(" ");
    this.#finals = finals;
    this.#count = finals.length;
    this.#interim = interim;
    this.#joined = { text, words: pieces.flatMap((p) => p.words), heard: normalizeWords(text).length };
    return this.#joined;
  }
}
