// Account and user IDs as people say and type them (any case, spaces, spoken dashes, digit and NATO words,
// "double"/"triple"), checked symbol by symbol with a message a caller can act on; and an ID spelled for speech.
import { EXCLUDED_SYMBOLS, hasValidCheck, SYMBOL_VALUE } from "./id-alphabet.ts";
import {
  ACCOUNT,
  type AccountId,
  bodyLength,
  canonical,
  capitalized,
  type PublicIdSpec,
  USER,
  type UserId,
} from "./public-ids.ts";

export type IdParseFailureReason = "format" | "alphabet" | "check";
export type IdParseResult<Id> =
  | { readonly ok: true; readonly id: Id }
  | { readonly ok: false; readonly reason: IdParseFailureReason; readonly message: string };

const SEPARATOR_WORDS = ["DASH", "HYPHEN", "MINUS"];
const DIGIT_WORDS = ["ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"];
const NATO_WORDS: Record<string, string> = {
  ALFA: "A",
  ALPHA: "A",
  BRAVO: "B",
  CHARLIE: "C",
  DELTA: "D",
  ECHO: "E",
  FOXTROT: "F",
  GOLF: "G",
  HOTEL: "H",
  INDIA: "I",
  JULIET: "J",
  JULIETT: "J",
  KILO: "K",
  LIMA: "L",
  MIKE: "M",
  NOVEMBER: "N",
  OSCAR: "O",
  PAPA: "P",
  QUEBEC: "Q",
  ROMEO: "R",
  SIERRA: "S",
  TANGO: "T",
  UNIFORM: "U",
  VICTOR: "V",
  WHISKEY: "W",
  WHISKY: "W",
  XRAY: "X",
  YANKEE: "Y",
  ZULU: "Z",
};
const WORD_SYMBOLS = new Map<string, string>([
  ...SEPARATOR_WORDS.map((word): [string, string] => [word, ""]),
  ...DIGIT_WORDS.map((word, digit): [string, string] => [word, String(digit)]),
  ...Object.entries(NATO_WORDS),
]);
const REPEAT_WORDS = new Map([
  ["DOUBLE", 2],
  ["TRIPLE", 3],
]);

/** Longer inputs are not an ID anyone said; refusing them keeps parsing cheap. */
const MAX_INPUT_LENGTH = 400;
/** Words that are also plausible typed groups (PAPA, DASH, THREE…) double the readings to try; cap it. */
const MAX_AMBIGUOUS_WORDS = 6;

type Token = { readonly repeat: number } | { readonly readings: readonly string[] };

function tokenize(input: string): Token[] {
  const words = input
    .normalize("NFKC")
    .toUpperCase()
    .replace(/\bX[\s\-\u2010-\u2015\u2212]*RAY\b/g, "XRAY")
    .replace(/[-\u2010-\u2015\u2212_.,;:/|]+/g, " ")
    .split(/\s+/)
    .filter((word) => word.length > 0);
  return words.map((word): Token => {
    const repeat = REPEAT_WORDS.get(word);
    if (repeat !== undefined) return { repeat };
    const symbol = WORD_SYMBOLS.get(word);
    if (symbol === undefined) return { readings: [word] };
    // "PAPA" or "DASH" may be a spoken word or four typed symbols; try both, word first.
    const alsoTyped = [...word].every((char) => SYMBOL_VALUE.has(char));
    return { readings: alsoTyped ? [symbol, word] : [symbol] };
  });
}

function* readings(tokens: readonly Token[]): Generator<string> {
  let ambiguous = 0;
  const choices = tokens.map((token) => {
    if ("repeat" in token) return token;
    if (token.readings.length > 1 && ambiguous++ < MAX_AMBIGUOUS_WORDS) return token.readings;
    return token.readings.slice(0, 1);
  });
  function* walk(at: number, text: string, repeat: number): Generator<string> {
    const choice = choices[at];
    if (choice === undefined) {
      yield text;
      return;
    }
    if ("repeat" in choice) {
      yield* walk(at + 1, text, choice.repeat);
      return;
    }
    for (const reading of choice) {
      const first = reading.slice(0, 1);
      yield* walk(at + 1, text + first.repeat(Math.max(0, repeat - 1)) + reading, 1);
    }
  }
  yield* walk(0, "", 1);
}

const FAILURE_RANK: Record<IdParseFailureReason, number> = { format: 0, alphabet: 1, check: 2 };

function judge(spec: PublicIdSpec, symbols: string): IdParseResult<string> {
  const length = bodyLength(spec);
  let body: string;
  if (symbols.length === length) body = symbols;
  else if (symbols.length === spec.prefix.length + length && symbols.startsWith(spec.prefix)) {
    body = symbols.slice(spec.prefix.length);
  } else {
    return {
      ok: false,
      reason: "format",
      message: `That doesn't look like ${spec.aNoun}: it should be ${spec.prefix} followed by ${length} letters and digits, like ${spec.example}.`,
    };
  }
  const strangers = [...new Set([...body].filter((char) => !SYMBOL_VALUE.has(char)))];
  if (strangers.length > 0) {
    const named = strangers.map((char) => `"${char}"`).join(", ");
    return {
      ok: false,
      reason: "alphabet",
      message: `${capitalized(spec.aNoun)} never contains ${named}: IDs leave out ${EXCLUDED_SYMBOLS} so they can't be confused.`,
    };
  }
  if (!hasValidCheck(body)) {
    return {
      ok: false,
      reason: "check",
      message: `That ${spec.noun} doesn't add up; a character was probably misheard or swapped. Please read it again.`,
    };
  }
  return { ok: true, id: canonical(spec, body) };
}

function parsePublicId(spec: PublicIdSpec, input: string): IdParseResult<string> {
  let best: Extract<IdParseResult<string>, { ok: false }> | undefined;
  const found = new Set<string>();
  if (input.length <= MAX_INPUT_LENGTH) {
    for (const symbols of readings(tokenize(input))) {
      const result = judge(spec, symbols);
      if (result.ok) found.add(result.id);
      else if (best === undefined || FAILURE_RANK[result.reason] > FAILURE_RANK[best.reason]) {
        best = result;
      }
    }
  }
  const [only, ...others] = found;
  if (only !== undefined && others.length === 0) return { ok: true, id: only };
  if (only !== undefined) {
    return {
      ok: false,
      reason: "format",
      message: `That could be more than one ${spec.noun}. Please spell it one character at a time.`,
    };
  }
  return best ?? judge(spec, "");
}

/**
 * Reads an account ID the way people say or type it: any case, spaces or no dashes, "dash" spoken,
 * digit words ("three"), NATO words ("kilo"), "double"/"triple", with or without the AYB prefix.
 */
export function parseAccountId(input: string): IdParseResult<AccountId> {
  return parsePublicId(ACCOUNT, input) as IdParseResult<AccountId>;
}

/** Reads a user ID the way people say or type it; same leniency as {@link parseAccountId}. */
export function parseUserId(input: string): IdParseResult<UserId> {
  return parsePublicId(USER, input) as IdParseResult<UserId>;
}

const NATO_BY_LETTER = new Map(
  Object.entries(NATO_WORDS)
    .filter(([word]) => !["ALPHA", "JULIETT", "WHISKY"].includes(word))
    .map(([word, letter]) => [letter, word[0] + word.slice(1).toLowerCase()]),
);

/**
 * The ID as a voice agent should say it: one symbol at a time, groups separated by commas so TTS
 * pauses between them; `phonetic` uses NATO words for letters. The text parses back to the same ID.
 */
export function spellIdForSpeech(id: AccountId | UserId, options: { phonetic?: boolean } = {}): string {
  return id
    .split("-")
    .map((group) =>
      [...group].map((symbol) => (options.phonetic ? (NATO_BY_LETTER.get(symbol) ?? symbol) : symbol)).join(" "),
    )
    .join(", ");
}
