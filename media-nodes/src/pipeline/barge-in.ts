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
    if (this.meaningfulWords(input.callerText, input.agentSentence).length < this.policy.minWords) return false;
    const first = input.words[0];
    const last = input.words[input.words.length - 1];
    const wordSpanMs = first && last ? (last.end - first.start) * 1000 : 0;
    return Math.max(input.vadSpeechMs, wordSpanMs) >= this.policy.minDurationMs;
  }
}
