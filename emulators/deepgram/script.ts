// What the emulated recogniser "hears": scripted caller lines, turned into Deepgram-style words.

/**
 * Lines heard on a stream that has no script (or has used it up). Short and clear so espeak-ng fixtures of
 * exactly these lines are intelligible; the two one-word lines catch short bursts such as backchannels. The last two
 * pause mid-sentence (`…`): a recogniser must not take the pause for the end of the caller's turn.
 */
export const DEFAULT_CALLER_SCRIPT: readonly string[] = [
  "Hi, I'd like to book an appointment for next Tuesday.",
  "Can you tell me where my order 48213 is?",
  "Uh-huh.",
  "What are your opening hours on Saturday?",
  "Okay.",
  "Could you send me a confirmation by text message?",
  "Yes, that works for me.",
  "Great, thank you, that's all I needed.",
  "Um … let me think … Thursday would work.",
  "My order number is … four eight two one three.",
];

/** Per-tag queues of lines; a line is consumed when a turn of caller speech starts on a stream with that tag. */
export class ScriptBook {
  private readonly scripts = new Map<string, string[]>();

  set(tag: string, lines: readonly string[]): void {
    this.scripts.set(tag, [...lines]);
  }

  remaining(tag: string): readonly string[] {
    return this.scripts.get(tag) ?? [];
  }

  delete(tag: string): boolean {
    return this.scripts.delete(tag);
  }

  take(tags: readonly string[]): string | undefined {
    for (const tag of tags) {
      const queue = this.scripts.get(tag);
      if (queue && queue.length > 0) return queue.shift();
    }
    return undefined;
  }
}

export interface Token {
  /** Lower-case word without punctuation, as in `words[].word`. */
  word: string;
  /** Display form with case and punctuation, as in `words[].punctuated_word`. */
  punctuated: string;
  /** Relative spoken length (syllables, plus a pause after clause punctuation). */
  weight: number;
}

export interface FormatOptions {
  punctuate: boolean;
  smartFormat: boolean;
  numerals: boolean;
}

const SECONDS_PER_SYLLABLE = 0.2;
const SECONDS_PER_PAUSE = 0.15;

export function syllables(word: string): number {
  const w = word.toLowerCase().replace(/[^a-z]/g, "");
  if (w.length === 0) return 1;
  const groups = w.match(/[aeiouy]+/g)?.length ?? 0;
  const silentE = w.length > 2 && w.endsWith("e") && !w.endsWith("le") && groups > 1 ? 1 : 0;
  return Math.max(1, groups - silentE);
}

const ONES = [
  "zero",
  "one",
  "two",
  "three",
  "four",
  "five",
  "six",
  "seven",
  "eight",
  "nine",
  "ten",
  "eleven",
  "twelve",
  "thirteen",
  "fourteen",
  "fifteen",
  "sixteen",
  "seventeen",
  "eighteen",
  "nineteen",
];
const TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];

/** Spoken form of a non-negative integer, as Deepgram writes numbers without smart_format or numerals. */
export function numberToWords(n: number): string[] {
  if (n < 20) return [ONES[n] ?? "zero"];
  if (n < 100) {
    const t = TENS[Math.floor(n / 10)] ?? "";
    return n % 10 === 0 ? [t] : [`${t}-${ONES[n % 10]}`];
  }
  if (n < 1000) {
    const rest = n % 100;
    return [ONES[Math.floor(n / 100)] ?? "", "hundred", ...(rest ? numberToWords(rest) : [])];
  }
  for (const [size, name] of [
    [1_000_000_000, "billion"],
    [1_000_000, "million"],
    [1_000, "thousand"],
  ] as const) {
    if (n >= size) {
      const rest = n % size;
      return [...numberToWords(Math.floor(n / size)), name, ...(rest ? numberToWords(rest) : [])];
    }
  }
  return [String(n)];
}

function stripPunctuation(token: string): string {
  return token
    .toLowerCase()
    .replace(/^[^\p{L}\p{N}]+/u, "")
    .replace(/[^\p{L}\p{N}]+$/u, "");
}

export function tokenize(line: string, opts: FormatOptions): Token[] {
  const tokens: Token[] = [];
  for (const raw of line.split(/\s+/).filter((t) => t.length > 0)) {
    const bare = stripPunctuation(raw);
    if (bare.length === 0) continue;
    const pause = /[,;:.?!]$/.test(raw) ? SECONDS_PER_PAUSE / SECONDS_PER_SYLLABLE : 0;
    if (/^\d+$/.test(bare) && !opts.smartFormat && !opts.numerals && bare.length <= 12) {
      const spoken = numberToWords(Number(bare));
      spoken.forEach((w, i) => {
        const last = i === spoken.length - 1;
        const trailing = last ? (raw.match(/[^\p{L}\p{N}]+$/u)?.[0] ?? "") : "";
        tokens.push({ word: w, punctuated: w + trailing, weight: syllables(w) + (last ? pause : 0) });
      });
      continue;
    }
    const weight = /^\d+$/.test(bare) ? 2 * bare.length : bare.split("-").reduce((s, p) => s + syllables(p), 0);
    tokens.push({ word: bare, punctuated: raw, weight: weight + pause });
  }
  return tokens;
}

/** Seconds a speaker at espeak-ng's default rate takes to say these tokens. */
export function expectedSeconds(tokens: readonly Token[]): number {
  return Math.max(0.3, tokens.reduce((s, t) => s + t.weight, 0) * SECONDS_PER_SYLLABLE);
}

export function transcriptOf(tokens: readonly Token[], opts: FormatOptions): string {
  const punct = opts.punctuate || opts.smartFormat;
  return tokens.map((t) => (punct ? t.punctuated : t.word)).join(" ");
}
