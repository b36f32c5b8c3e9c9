import { z } from "zod";

/**
 * Identities a caller may have to read out, or an agent read back, over a phone line.
 *
 * The alphabet leaves out every symbol that sounds or looks like another one (0/O, 1/I/L, U/V),
 * which leaves 29 symbols. 29 is prime, so a check character weighted by position (weights 1..n,
 * all non-zero and distinct mod 29) changes for every single substitution and every swap of two
 * different symbols, adjacent or not: a mis-heard ID fails here, before any database lookup.
 */
export const ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ";
const BASE = ID_ALPHABET.length;
const RESOURCE_ALPHABET = ID_ALPHABET.toLowerCase();
const SYMBOL_VALUE = new Map<string, number>([...ID_ALPHABET].map((symbol, value) => [symbol, value]));

/** Letters and digits that never appear in an ID, named when a caller uses one. */
const EXCLUDED_SYMBOLS = "0, 1, I, L, O, U and V";

// 232 = 8 × 29: taking bytes at or above it modulo 29 would favour the first 24 symbols.
const UNBIASED_BYTE_LIMIT = BASE * Math.floor(256 / BASE);

function randomSymbols(count: number, alphabet: string): string {
  let out = "";
  const bytes = new Uint8Array(count + 8);
  while (out.length < count) {
    crypto.getRandomValues(bytes);
    for (const byte of bytes) {
      if (byte < UNBIASED_BYTE_LIMIT && out.length < count) out += alphabet[byte % BASE];
    }
  }
  return out;
}

/**
 * The check character for a run of upper-case alphabet symbols: Σ (position + 1) × value, mod 29.
 * Throws on symbols outside the alphabet; parsing reports those before it gets here.
 */
export function checkCharacter(symbols: string): string {
  let sum = 0;
  for (let i = 0; i < symbols.length; i++) {
    const value = SYMBOL_VALUE.get(symbols[i]!);
    if (value === undefined) throw new RangeError(`"${symbols[i]}" is not in the ID alphabet`);
    sum = (sum + (i + 1) * value) % BASE;
  }
  return ID_ALPHABET[sum]!;
}

function hasValidCheck(body: string): boolean {
  for (const symbol of body) if (!SYMBOL_VALUE.has(symbol)) return false;
  return body.length > 1 && checkCharacter(body.slice(0, -1)) === body.at(-1);
}

// ---------------------------------------------------------------------------------------------
// Account and user IDs

interface PublicIdSpec {
  readonly prefix: string;
  /** Group sizes after the prefix; their sum is the body length (data symbols + check). */
  readonly groups: readonly number[];
  readonly noun: string;
  /** The noun with its article, for messages read to a caller. */
  readonly aNoun: string;
  readonly example: string;
}

const ACCOUNT = withExample(
  { prefix: "AYB", groups: [4, 4, 4], noun: "account ID", aNoun: "an account ID" },
  "K3M29PX47TN",
);
const USER = withExample({ prefix: "USR", groups: [10], noun: "user ID", aNoun: "a user ID" }, "7TN8Q2W5H");

function withExample(spec: Omit<PublicIdSpec, "example">, data: string): PublicIdSpec {
  return { ...spec, example: canonical(spec, data + checkCharacter(data)) };
}

const bodyLength = (spec: PublicIdSpec): number => spec.groups.reduce((a, b) => a + b, 0);

function canonical(spec: Pick<PublicIdSpec, "prefix" | "groups">, body: string): string {
  let out = spec.prefix;
  let at = 0;
  for (const size of spec.groups) {
    out += `-${body.slice(at, at + size)}`;
    at += size;
  }
  return out;
}

function canonicalPattern(spec: PublicIdSpec): RegExp {
  const group = (n: number) => `[${ID_ALPHABET}]{${n}}`;
  return new RegExp(`^${spec.prefix}${spec.groups.map((n) => `-${group(n)}`).join("")}$`);
}

const ACCOUNT_ID_PATTERN = canonicalPattern(ACCOUNT);
const USER_ID_PATTERN = canonicalPattern(USER);

function isCanonical(spec: PublicIdSpec, pattern: RegExp, value: unknown): boolean {
  return (
    typeof value === "string" &&
    pattern.test(value) &&
    hasValidCheck(value.slice(spec.prefix.length).replaceAll("-", ""))
  );
}

/** Canonical account ID, as stored and returned by the API: `AYB-XXXX-XXXX-XXXX`. */
export const AccountIdSchema = z
  .string()
  .regex(ACCOUNT_ID_PATTERN, { message: `Expected an account ID like ${ACCOUNT.example}` })
  .refine((value) => isCanonical(ACCOUNT, ACCOUNT_ID_PATTERN, value), {
    message: "Account ID check character does not match",
  })
  .brand<"AccountId">()
  .meta({ description: "Account ID", pattern: ACCOUNT_ID_PATTERN.source, example: ACCOUNT.example });
export type AccountId = z.infer<typeof AccountIdSchema>;

/** Canonical user ID: `USR-XXXXXXXXXX`. */
export const UserIdSchema = z
  .string()
  .regex(USER_ID_PATTERN, { message: `Expected a user ID like ${USER.example}` })
  .refine((value) => isCanonical(USER, USER_ID_PATTERN, value), { message: "User ID check character does not match" })
  .brand<"UserId">()
  .meta({ description: "User ID", pattern: USER_ID_PATTERN.source, example: USER.example });
export type UserId = z.infer<typeof UserIdSchema>;

export function isAccountId(value: unknown): value is AccountId {
  return isCanonical(ACCOUNT, ACCOUNT_ID_PATTERN, value);
}

export function isUserId(value: unknown): value is UserId {
  return isCanonical(USER, USER_ID_PATTERN, value);
}

function newPublicId(spec: PublicIdSpec): string {
  const data = randomSymbols(bodyLength(spec) - 1, ID_ALPHABET);
  return canonical(spec, data + checkCharacter(data));
}

export function newAccountId(): AccountId {
  return newPublicId(ACCOUNT) as AccountId;
}

export function newUserId(): UserId {
  return newPublicId(USER) as UserId;
}

/** Builds the canonical account ID from its 11 data symbols (upper case); the check character is added. */
export function accountIdFromData(data: string): AccountId {
  return publicIdFromData(ACCOUNT, data) as AccountId;
}

/** Builds the canonical user ID from its 9 data symbols (upper case); the check character is added. */
export function userIdFromData(data: string): UserId {
  return publicIdFromData(USER, data) as UserId;
}

function publicIdFromData(spec: PublicIdSpec, data: string): string {
  if (data.length !== bodyLength(spec) - 1) {
    throw new RangeError(`${capitalized(spec.aNoun)} has ${bodyLength(spec) - 1} data symbols, got ${data.length}`);
  }
  return canonical(spec, data + checkCharacter(data));
}

// ---------------------------------------------------------------------------------------------
// Parsing what people say and type

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

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
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

// ---------------------------------------------------------------------------------------------
// Opaque resource IDs

export const RESOURCE_KINDS = [
  "agt",
  "agv",
  "num",
  "call",
  "turn",
  "key",
  "cns",
  "aud",
  "ver",
  "req",
  "ses",
  "pbk",
  // Envelope encryption and event webhooks (issue 13).
  "dk",
  "sec",
  "we",
  "evt",
  "dlv",
  "att",
] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];
/** `agt_` + 20 lower-case symbols: about 97 random bits, safe to read aloud if it ever has to be. */
export type ResourceId<K extends ResourceKind = ResourceKind> = `${K}_${string}`;

const RESOURCE_BODY_LENGTH = 20;
const RESOURCE_BODY_PATTERN = `[${RESOURCE_ALPHABET}]{${RESOURCE_BODY_LENGTH}}`;

export function newResourceId<K extends ResourceKind>(kind: K): ResourceId<K> {
  return `${kind}_${randomSymbols(RESOURCE_BODY_LENGTH, RESOURCE_ALPHABET)}`;
}

export function isResourceId<K extends ResourceKind>(kind: K, value: unknown): value is ResourceId<K> {
  return typeof value === "string" && new RegExp(`^${kind}_${RESOURCE_BODY_PATTERN}$`).test(value);
}

export function resourceIdSchema<K extends ResourceKind>(kind: K) {
  const pattern = `^${kind}_${RESOURCE_BODY_PATTERN}$`;
  return z
    .templateLiteral([z.literal(`${kind}_`), z.string().regex(new RegExp(`^${RESOURCE_BODY_PATTERN}$`))])
    .meta({ pattern, example: `${kind}_k3m29px47tn8q2w5hjzr` });
}
