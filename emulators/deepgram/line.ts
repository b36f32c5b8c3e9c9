// One scripted caller line as it is "spoken": its words, where each is said in the line's own time, and the parts a
// `…` splits it into (a caller pausing mid-sentence). Both recognisers (Nova on /v1/listen, Flux on /v2/listen) lay
// a line over the speech their VAD finds through this one model, so they agree on what a caller said and when.
import { expectedSeconds, type FormatOptions, type Token, tokenize } from "./script.ts";

// A script marks a mid-sentence pause with "…" (or "..."): "My order number is … four eight two one three."
const PAUSE_MARK = /\s*(?:…|\.\.\.)\s*/;

/** The parts of a line between its `…` pause marks, empty parts dropped. */
export function splitPauses(line: string): string[] {
  return line
    .split(PAUSE_MARK)
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/** Seconds after its true time that a word may already be shown: recognisers reveal a word as it ends. */
const WORD_REVEAL_LEAD_S = 0.05;
// A word that ends a clause inside a sentence ("Friday, please"): callers pause there without having finished.
const CLAUSE_END = /[,;:\u2013\u2014]$/;
// The pause each punctuation mark adds to a token's length (script.ts SECONDS_PER_PAUSE).
const PUNCTUATION_PAUSE_S = 0.15;

export class ScriptLine {
  tokens: Token[] = [];
  /** Seconds into the spoken line at which each token has been said. */
  ends: number[] = [];
  /** Token index at which each part ends; the last is tokens.length. */
  bounds: number[] = [];
  expectedS = 0;
  /** Tokens already committed (finalised by Nova, or closed into a turn by Flux). */
  committed = 0;
  /** Line time (expected seconds) and caller speech seconds at the last commit, so each part is timed afresh. */
  private baseExpected = 0;
  private baseSpeech = 0;

  constructor(
    text: string,
    readonly source: "script" | "default",
    private readonly format: FormatOptions,
  ) {
    this.retarget(text);
  }

  /** Replaces what the caller is taken to be saying (the default script is a guess the audio may overrule). */
  retarget(text: string): void {
    const parts = splitPauses(text);
    this.tokens = [];
    this.bounds = [];
    for (const part of parts.length > 0 ? parts : [text]) {
      this.tokens.push(...tokenize(part, this.format));
      this.bounds.push(this.tokens.length);
    }
    this.expectedS = expectedSeconds(this.tokens);
    const total = this.tokens.reduce((s, t) => s + t.weight, 0) || 1;
    let acc = 0;
    this.ends = this.tokens.map((t) => {
      acc += t.weight;
      return (acc / total) * this.expectedS;
    });
  }

  get length(): number {
    return this.tokens.length;
  }

  get done(): boolean {
    return this.committed >= this.tokens.length;
  }

  /** Expected line time at which token index `k` begins. */
  expectedAt(k: number): number {
    return k > 0 ? (this.ends[k - 1] ?? this.expectedS) : 0;
  }

  /** Where the part holding the next uncommitted word ends. */
  partEnd(): number {
    return this.bounds.find((b) => b > this.committed) ?? this.tokens.length;
  }

  /** Whether the part being spoken is the line's last (no `…` pause left after it). */
  inLastPart(): boolean {
    return this.partEnd() >= this.tokens.length;
  }

  /** Words said by `speechS` seconds of the caller's speech on this line, never past the current part's end. */
  revealed(speechS: number): number {
    const at = this.baseExpected + (speechS - this.baseSpeech) + WORD_REVEAL_LEAD_S;
    const limit = this.partEnd();
    let k = this.committed;
    while (k < limit && (this.ends[k] ?? 0) <= at) k++;
    return k;
  }

  /** Expected seconds of the part being said. */
  partExpectedS(): number {
    return this.expectedAt(this.partEnd()) - this.baseExpected;
  }

  /** Fraction of the current part's expected length spoken by `speechS`. */
  partSpoken(speechS: number): number {
    const expected = this.partExpectedS();
    return expected <= 0 ? 1 : (speechS - this.baseSpeech) / expected;
  }

  /**
   * Whether a pause after `speechS` seconds of speech is better explained by the caller stopping at a clause mark
   * inside the part (a comma) than by the part's end: speakers run faster or slower than the script's estimate, so
   * the boundary whose expected time is nearest (by ratio) wins. Returns the token count through that clause word,
   * or null when the part's end explains the pause best.
   */
  clauseAt(speechS: number, after = 0): number | null {
    const end = this.partEnd();
    const spoken = speechS - this.baseSpeech;
    if (spoken <= 0 || end <= this.committed) return null;
    const bareEnd = (k: number): number => {
      const tok = this.tokens[k];
      const pause = tok && /[,;:.?!\u2013\u2014]$/.test(tok.punctuated) ? PUNCTUATION_PAUSE_S : 0;
      return Math.max(0.05, (this.ends[k] ?? 0) - this.baseExpected - pause);
    };
    let best: number | null = null;
    let bestScore = Math.abs(Math.log(spoken / bareEnd(end - 1)));
    for (let k = Math.max(this.committed, after); k < end - 1; k++) {
      if (!CLAUSE_END.test(this.tokens[k]?.punctuated ?? "")) continue;
      const score = Math.abs(Math.log(spoken / bareEnd(k)));
      if (score < bestScore) {
        bestScore = score;
        best = k + 1;
      }
    }
    return best;
  }

  /** Marks words up to `upto` as committed at `speechS`, and times the next part from here. */
  commit(upto: number, speechS: number): void {
    this.committed = Math.max(this.committed, Math.min(upto, this.tokens.length));
    this.baseExpected = this.expectedAt(this.committed);
    this.baseSpeech = speechS;
  }

  slice(from: number, to: number): Token[] {
    return this.tokens.slice(from, to);
  }
}
