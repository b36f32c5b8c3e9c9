// Turns the model's token stream into pieces worth sending to TTS. Speech starts on the first complete
// clause rather than the first full reply, which is most of the perceived latency of a voice agent.
// A piece ends at a sentence end, or at clause punctuation once the clause is long enough to sound
// natural on its own. Numbers (48,213 · 3.5 · 10:30), abbreviations (Dr. · e.g.) and initials (U.S.)
// never split, so TTS reads them whole.

export interface ClauseChunkerOptions {
  /** Words a clause needs before a comma, semicolon, colon or dash may end it. Default 4. */
  minClauseWords?: number;
  /** A run this long with no punctuation is split at a space anyway, so speech never waits on it. Default 30. */
  maxWords?: number;
}

const ABBREVIATIONS = new Set([
  "mr",
  "mrs",
  "ms",
  "dr",
  "prof",
  "sr",
  "jr",
  "st",
  "mt",
  "vs",
  "etc",
  "e.g",
  "i.e",
  "eg",
  "ie",
  "a.m",
  "p.m",
  "inc",
  "ltd",
  "corp",
  "approx",
  "apt",
  "ave",
  "blvd",
  "dept",
  "est",
  "fig",
  "gen",
  "gov",
  "lt",
  "capt",
  "sgt",
  "rev",
  "hon",
]);

const SENTENCE_END = new Set([".", "!", "?", "…"]);
const CLAUSE_END = new Set([",", ";", ":"]);
const DASHES = new Set(["—", "–"]);
const CLOSERS = new Set(['"', "'", ")", "]", "”", "’", "»"]);

function isSpace(ch: string | undefined): boolean {
  return ch !== undefined && /\s/.test(ch);
}

function countWords(text: string): number {
  let n = 0;
  for (const w of text.split(/\s+/)) if (/[\p{L}\p{N}]/u.test(w)) n++;
  return n;
}

/** The token a period ends: "Dr." → "Dr", "e.g." → "e.g", "U.S." → "U.S". */
function tokenBefore(text: string, periodIndex: number): string {
  let start = periodIndex;
  while (start > 0 && !isSpace(text[start - 1])) start--;
  return text.slice(start, periodIndex).replace(/^[("'“‘[]+/, "");
}

function isAbbreviation(token: string): boolean {
  if (ABBREVIATIONS.has(token.toLowerCase())) return true;
  // An initial (J. Smith) or dotted letters (U.S, a.k.a). "Plan B." loses its early split; a name
  // read as "J." then a pause then "Smith" would sound worse.
  return /^\p{Lu}$/u.test(token) || /^(\p{L}\.)+\p{L}$/u.test(token);
}

export class ClauseChunker {
  private buffer = "";
  private readonly minClauseWords: number;
  private readonly maxWords: number;

  constructor(opts: ClauseChunkerOptions = {}) {
    this.minClauseWords = opts.minClauseWords ?? 4;
    this.maxWords = opts.maxWords ?? 30;
  }

  /** Adds streamed text; returns the clauses now complete, trimmed, in order. */
  push(text: string): string[] {
    this.buffer += text;
    const out: string[] = [];
    for (;;) {
      const end = this.nextBoundary();
      if (end === null) break;
      const piece = this.buffer.slice(0, end).trim();
      this.buffer = this.buffer.slice(end);
      if (piece.length > 0) out.push(piece);
    }
    return out;
  }

  /** The end of the reply: whatever is left, as one last piece. */
  flush(): string[] {
    const rest = this.buffer.trim();
    this.buffer = "";
    return rest.length > 0 ? [rest] : [];
  }

  /** Drops buffered text (barge-in). */
  reset(): void {
    this.buffer = "";
  }

  /** Index just past the first complete clause in the buffer, or null if none is complete yet. */
  private nextBoundary(): number | null {
    const b = this.buffer;
    let lastSpace = -1;
    for (let i = 0; i < b.length; i++) {
      const ch = b[i]!;
      if (isSpace(ch)) {
        lastSpace = i;
        continue;
      }
      if (SENTENCE_END.has(ch)) {
        let j = i + 1;
        while (j < b.length && (SENTENCE_END.has(b[j]!) || CLOSERS.has(b[j]!))) j++;
        // Whether "3." is "3.5" or a sentence end is only known from the next character.
        if (j >= b.length) return null;
        if (!isSpace(b[j])) {
          i = j - 1;
          continue;
        }
        if (ch === "." && j === i + 1 && isAbbreviation(tokenBefore(b, i))) {
          i = j - 1;
          continue;
        }
        return j;
      }
      if (CLAUSE_END.has(ch)) {
        if (i + 1 >= b.length) return null;
        if (isSpace(b[i + 1]) && countWords(b.slice(0, i)) >= this.minClauseWords) return i + 1;
        continue;
      }
      if (DASHES.has(ch)) {
        if (countWords(b.slice(0, i)) >= this.minClauseWords) return i + 1;
        continue;
      }
      // A long unpunctuated run: cut at the last space before this word.
      if (lastSpace > 0 && isSpace(b[i - 1]) && countWords(b.slice(0, lastSpace)) >= this.maxWords) return lastSpace;
    }
    return null;
  }
}
