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
export const SYMBOL_VALUE = new Map<string, number>([...ID_ALPHABET].map((symbol, value) => [symbol, value]));

/** Letters and digits that never appear in an ID, named when a caller uses one. */
export const EXCLUDED_SYMBOLS = "0, 1, I, L, O, U and V";

// 232 = 8 × 29: taking bytes at or above it modulo 29 would favour the first 24 symbols.
const UNBIASED_BYTE_LIMIT = BASE * Math.floor(256 / BASE);

export function randomSymbols(count: number, alphabet: string): string {
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

export function hasValidCheck(body: string): boolean {
  for (const symbol of body) if (!SYMBOL_VALUE.has(symbol)) return false;
  return body.length > 1 && checkCharacter(body.slice(0, -1)) === body.at(-1);
}
