// One-time codes read over the phone. Only a keyed hash of each code is stored; judging an attempt is a pure
// function of the stored state, so expiry, the attempt cap and lockout are tested without a database.

export const CODE_TTL_MS = 5 * 60_000;
export const MAX_ATTEMPTS = 5;
export const CODE_DIGITS = 6;

export const VERIFICATION_STATUSES = ["pending", "verified", "locked", "expired"] as const;
export type VerificationStatus = (typeof VERIFICATION_STATUSES)[number];

/** Uniform over 000000..999999 (rejection sampling, so no code is likelier than another). */
export function generateCode(): string {
  const limit = 4_294_000_000; // largest multiple of 10^6 below 2^32
  const word = new Uint32Array(1);
  for (;;) {
    crypto.getRandomValues(word);
    const value = word[0] ?? limit;
    if (value < limit) return String(value % 10 ** CODE_DIGITS).padStart(CODE_DIGITS, "0");
  }
}

const DIGIT_WORDS: Record<string, string> = {
  zero: "0",
  oh: "0",
  o: "0",
  one: "1",
  two: "2",
  three: "3",
  four: "4",
  five: "5",
  six: "6",
  seven: "7",
  eight: "8",
  nine: "9",
};

/**
 * The digits of a code as speech recognition may write it: "482 913", "4-8-2-9-1-3", "four eight two nine one
 * three", "oh" for zero. Returns undefined when anything else is in there, so a garbled read-back is "try
 * again", not a wrong attempt.
 */
export function normalizeSpokenCode(input: string): string | undefined {
  let digits = "";
  for (const token of input.toLowerCase().split(/[\s,.\-–—]+/)) {
    if (token === "") continue;
    if (/^\d+$/.test(token)) digits += token;
    else if (DIGIT_WORDS[token] !== undefined) digits += DIGIT_WORDS[token];
    else return undefined;
  }
  return digits.length === CODE_DIGITS ? digits : undefined;
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Random per-verification salt (hex). */
export function newSalt(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return hex(bytes.buffer);
}

/**
 * HMAC-SHA256 keyed with the server secret (when configured) over the verification ID, salt and code. Without
 * the secret a stolen row still leaves 10^6 guesses per row; with it, the rows alone are useless.
 */
export async function hashCode(code: string, verificationId: string, salt: string, secret?: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret && secret.length > 0 ? secret : `aybiza-verify:${salt}`),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return hex(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${verificationId}.${salt}.${code}`)));
}

function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export interface VerificationState {
  status: VerificationStatus;
  attempts: number;
  expiresAt: number;
  codeHash: string;
}

export type AttemptOutcome =
  /** The code matched: the caller is verified. */
  | { outcome: "verified"; state: VerificationState }
  /** Wrong code; `attemptsLeft` more tries. */
  | { outcome: "incorrect"; attemptsLeft: number; state: VerificationState }
  /** That was the last allowed try (or an earlier one was): no further attempt is judged. */
  | { outcome: "locked"; state: VerificationState }
  | { outcome: "expired"; state: VerificationState }
  /** Already verified earlier; the code is spent. */
  | { outcome: "already-verified"; state: VerificationState };

/** Judges one attempt. `presentedHash` is the hash of the code the caller read back. */
export function judgeAttempt(state: VerificationState, presentedHash: string, now: number): AttemptOutcome {
  if (state.status === "verified") return { outcome: "already-verified", state };
  if (state.status === "locked") return { outcome: "locked", state };
  if (state.status === "expired" || now >= state.expiresAt) {
    return { outcome: "expired", state: { ...state, status: "expired" } };
  }
  const attempts = state.attempts + 1;
  if (constantTimeEqual(presentedHash, state.codeHash)) {
    return { outcome: "verified", state: { ...state, attempts, status: "verified" } };
  }
  if (attempts >= MAX_ATTEMPTS) return { outcome: "locked", state: { ...state, attempts, status: "locked" } };
  return { outcome: "incorrect", attemptsLeft: MAX_ATTEMPTS - attempts, state: { ...state, attempts } };
}

/** `+14155550123` → `+1•••••••0123`: enough for the caller to recognise their phone, not enough to learn it. */
export function maskPhone(e164: string): string {
  if (e164.length <= 6) return "•".repeat(e164.length);
  return `${e164.slice(0, 2)}${"•".repeat(e164.length - 6)}${e164.slice(-4)}`;
}
