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
  /**
   * Words the first clause of a reply needs before a comma may end it. Default: `minClauseWords`. A reply's
   * opener ("Sure," "Okay, so") is what the caller waits for, so the voice loop lets it go at once.
   */
  minFirstClauseWords?: number;
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

const WORD_CHAR = /[\p{L}\p{N}]/u;

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

/**
 * Where a scan of the buffer stopped: the next index to look at, and what it knew there. Tokens arrive a few
 * characters at a time, so each push resumes here instead of rescanning (and re-splitting) the whole clause.
 */
interface ScanState {
  i: number;
  lastSpace: number;
  /** Words that ended before `i` (a word: a run of non-spaces with a letter or digit in it). */
  words: number;
  inWord: boolean;
  wordCounts: boolean;
}

const START: Readonly<ScanState> = { i: 0, lastSpace: -1, words: 0, inWord: false, wordCounts: false };

export class ClauseChunker {
  private buffer = "";
  private scan: ScanState = { ...START };
  private readonly minClauseWords: number;
  private readonly maxWords: number;
  private readonly minFirstClauseWords: number;
  private first = true;

  constructor(opts: ClauseChunkerOptions = {}) {
    this.minClauseWords = opts.minClauseWords ?? 4;
    this.maxWords = opts.maxWords ?? 30;
    this.minFirstClauseWords = opts.minFirstClauseWords ?? this.minClauseWords;
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
      this.scan = { ...START };
      if (piece.length > 0) {
        out.push(piece);
        this.first = false;
      }
    }
    return out;
  }

  /** The end of the reply: whatever is left, as one last piece. */
  flush(): string[] {
    const rest = this.buffer.trim();
    this.reset();
    if (rest.length > 0) this.first = false;
    return rest.length > 0 ? [rest] : [];
  }

  /** Drops buffered text (barge-in). */
  reset(): void {
    this.buffer = "";
    this.scan = { ...START };
  }

  /** Index just past the first complete clause in the buffer, or null if none is complete yet. */
  private nextBoundary(): number | null {
    const b = this.buffer;
    const st = this.scan;
    // Words before index i: those that ended, plus the one in progress if it has a letter or digit.
    const wordsBefore = () => st.words + (st.inWord && st.wordCounts ? 1 : 0);
    const minWords = this.first ? this.minFirstClauseWords : this.minClauseWords;
    for (; st.i < b.length; st.i++) {
      const i = st.i;
      const ch = b[i]!;
      if (isSpace(ch)) {
        if (st.inWord && st.wordCounts) st.words++;
        st.inWord = false;
        st.wordCounts = false;
        st.lastSpace = i;
        continue;
      }
      const startsWord = !st.inWord && st.lastSpace > 0 && st.lastSpace === i - 1;
      st.inWord = true;
      if (!st.wordCounts && WORD_CHAR.test(ch)) st.wordCounts = true;
      if (SENTENCE_END.has(ch)) {
        let j = i + 1;
        while (j < b.length && (SENTENCE_END.has(b[j]!) || CLOSERS.has(b[j]!))) j++;
        // Whether "3." is "3.5" or a sentence end is only known from the next character.
        if (j >= b.length) {
          this.rewindTo(i);
          return null;
        }
        if (!isSpace(b[j])) {
          st.i = j - 1;
          continue;
        }
        if (ch === "." && j === i + 1 && isAbbreviation(tokenBefore(b, i))) {
          st.i = j - 1;
          continue;
        }
        return j;
      }
      if (CLAUSE_END.has(ch)) {
        if (i + 1 >= b.length) {
          this.rewindTo(i);
          return null;
        }
        if (isSpace(b[i + 1]) && wordsBefore() >= minWords) return i + 1;
        continue;
      }
      if (DASHES.has(ch)) {
        if (wordsBefore() >= minWords) return i + 1;
        continue;
      }
      // A long unpunctuated run: cut at the last space before this word.
      if (startsWord && st.words >= this.maxWords) return st.lastSpace;
    }
    return null;
  }

  /**
   * Leaves the scan so that the character at `i` is looked at again once more text has come: what it means
   * depends on what follows it. The word it belongs to is still in progress, so the word state stands.
   */
  private rewindTo(i: number): void {
    this.scan.i = i;
  }
}
