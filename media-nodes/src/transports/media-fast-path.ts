// The fast path for the one message that arrives 50 times a second on every call: a carrier's `media`
// event. It reads the message bytes in place, without building a string, an object tree or a schema
// result, and decodes the base64 payload straight into a buffer the codec reuses.
//
// It is a recogniser, not a second validator: it accepts only the plain shape carriers send (a flat
// JSON object of strings with one nested `media` object of strings, no escapes), and only when the
// message is certainly a valid inbound media frame. Anything else, including every malformed message,
// returns NOT_FAST and the codec takes its strict zod path, which alone decides what is invalid and
// why. So the fast path can make a message cheaper, never more acceptable.

/** The message is not a plain, valid inbound media frame: use the strict path. */
export const NOT_FAST = -1;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const PAD = 0x3d; // "="

const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));
const EVENT = ascii("event");
const MEDIA = ascii("media");
const PAYLOAD = ascii("payload");
const TRACK = ascii("track");
const INBOUND = ascii("inbound");

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/** Base64 character → 6-bit value; 255 for anything outside the standard alphabet (padding included). */
const DECODE = new Uint8Array(256).fill(255);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;
const ENCODE = ascii(ALPHABET);

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipSpace(b: Uint8Array, i: number): number {
  while (i < b.length && isSpace(b[i])) i++;
  return i;
}

/** Index of the closing quote of a string whose first character is at `i`; NOT_FAST on escapes or control characters. */
function stringEnd(b: Uint8Array, i: number): number {
  for (; i < b.length; i++) {
    const c = b[i]!;
    if (c === QUOTE) return i;
    // Escapes could spell anything (even "media"); control characters are invalid JSON. Both go the strict way.
    if (c === BACKSLASH || c < 0x20) return NOT_FAST;
  }
  return NOT_FAST;
}

function bytesEqual(b: Uint8Array, start: number, end: number, word: Uint8Array): boolean {
  if (end - start !== word.length) return false;
  for (let k = 0; k < word.length; k++) if (b[start + k] !== word[k]) return false;
  return true;
}

/**
 * Strict base64 (the standard alphabet, length a multiple of four, padding only at the end: exactly what
 * the strict path's pattern accepts) decoded into `out`. Returns the byte count, or NOT_FAST when the text
 * is empty, not strict base64, or longer than `out`.
 */
export function decodeBase64Into(b: Uint8Array, start: number, end: number, out: Uint8Array): number {
  const length = end - start;
  if (length === 0 || length % 4 !== 0) return NOT_FAST;
  const pads = b[end - 1] === PAD ? (b[end - 2] === PAD ? 2 : 1) : 0;
  const bytes = (length / 4) * 3 - pads;
  if (bytes > out.length) return NOT_FAST;
  let o = 0;
  const full = end - (pads > 0 ? 4 : 0);
  for (let i = start; i < full; i += 4) {
    const a = DECODE[b[i]!]!;
    const c = DECODE[b[i + 1]!]!;
    const d = DECODE[b[i + 2]!]!;
    const e = DECODE[b[i + 3]!]!;
    if ((a | c | d | e) > 63) return NOT_FAST;
    out[o++] = (a << 2) | (c >> 4);
    out[o++] = ((c & 15) << 4) | (d >> 2);
    out[o++] = ((d & 3) << 6) | e;
  }
  if (pads > 0) {
    const a = DECODE[b[full]!]!;
    const c = DECODE[b[full + 1]!]!;
    const d = pads === 1 ? DECODE[b[full + 2]!]! : 0;
    if ((a | c | d) > 63) return NOT_FAST;
    out[o++] = (a << 2) | (c >> 4);
    if (pads === 1) out[o++] = ((c & 15) << 4) | (d >> 2);
  }
  return o;
}

/** Base64 of `src` written into `out` at `at`; returns the index after the last character written. */
export function encodeBase64Into(src: Uint8Array, out: Uint8Array, at: number): number {
  const n = src.length;
  const whole = n - (n % 3);
  let o = at;
  for (let i = 0; i < whole; i += 3) {
    const v = (src[i]! << 16) | (src[i + 1]! << 8) | src[i + 2]!;
    out[o++] = ENCODE[v >> 18]!;
    out[o++] = ENCODE[(v >> 12) & 63]!;
    out[o++] = ENCODE[(v >> 6) & 63]!;
    out[o++] = ENCODE[v & 63]!;
  }
  if (n - whole === 1) {
    const v = src[whole]! << 16;
    out[o++] = ENCODE[v >> 18]!;
    out[o++] = ENCODE[(v >> 12) & 63]!;
    out[o++] = PAD;
    out[o++] = PAD;
  } else if (n - whole === 2) {
    const v = (src[whole]! << 16) | (src[whole + 1]! << 8);
    out[o++] = ENCODE[v >> 18]!;
    out[o++] = ENCODE[(v >> 12) & 63]!;
    out[o++] = ENCODE[(v >> 6) & 63]!;
    out[o++] = PAD;
  }
  return o;
}

export function base64Length(bytes: number): number {
  return Math.ceil(bytes / 3) * 4;
}

// Where the inner object's payload was found; module-level so the scan allocates nothing.
let payloadStart = NOT_FAST;
let payloadEnd = NOT_FAST;

/** Scans the `media` object starting at its `{`; returns the index after its `}`, or NOT_FAST. */
function scanMediaObject(b: Uint8Array, i: number): number {
  let sawTrack = false;
  i = skipSpace(b, i + 1);
  if (b[i] === CLOSE_BRACE) return NOT_FAST; // no payload
  for (;;) {
    if (b[i] !== QUOTE) return NOT_FAST;
    const keyStart = i + 1;
    const keyEnd = stringEnd(b, keyStart);
    if (keyEnd === NOT_FAST) return NOT_FAST;
    i = skipSpace(b, keyEnd + 1);
    if (b[i] !== COLON) return NOT_FAST;
    i = skipSpace(b, i + 1);
    // Every value in the plain shape is a string; numbers, nesting and the rest go the strict way.
    if (b[i] !== QUOTE) return NOT_FAST;
    const valueStart = i + 1;
    const isPayload = bytesEqual(b, keyStart, keyEnd, PAYLOAD);
    // The payload is most of the message: find its end with a native search and let the base64 decoder
    // vet its characters (a backslash or control character is not base64, so it still goes the strict way).
    const valueEnd = isPayload ? b.indexOf(QUOTE, valueStart) : stringEnd(b, valueStart);
    if (valueEnd === NOT_FAST) return NOT_FAST;
    // A repeated key means "the last one wins" in JSON.parse; not worth mirroring here.
    if (isPayload) {
      if (payloadStart !== NOT_FAST) return NOT_FAST;
      payloadStart = valueStart;
      payloadEnd = valueEnd;
    } else if (bytesEqual(b, keyStart, keyEnd, TRACK)) {
      if (sawTrack || !bytesEqual(b, valueStart, valueEnd, INBOUND)) return NOT_FAST;
      sawTrack = true;
    }
    i = skipSpace(b, valueEnd + 1);
    if (b[i] === COMMA) {
      i = skipSpace(b, i + 1);
      continue;
    }
    if (b[i] === CLOSE_BRACE) return i + 1;
    return NOT_FAST;
  }
}

/**
 * A plain `{"event":"media", …, "media":{…, "payload":"<base64>"}}` message whose track (if named) is
 * inbound and whose payload is 1 to `out.length` bytes of strict base64: decodes the payload into `out`
 * and returns its length. NOT_FAST for anything else.
 */
export function scanMediaMessage(b: Uint8Array, out: Uint8Array): number {
  payloadStart = NOT_FAST;
  payloadEnd = NOT_FAST;
  let sawEvent = false;
  let sawMedia = false;
  let i = skipSpace(b, 0);
  if (b[i] !== OPEN_BRACE) return NOT_FAST;
  i = skipSpace(b, i + 1);
  if (b[i] === CLOSE_BRACE) return NOT_FAST;
  for (;;) {
    if (b[i] !== QUOTE) return NOT_FAST;
    const keyStart = i + 1;
    const keyEnd = stringEnd(b, keyStart);
    if (keyEnd === NOT_FAST) return NOT_FAST;
    i = skipSpace(b, keyEnd + 1);
    if (b[i] !== COLON) return NOT_FAST;
    i = skipSpace(b, i + 1);
    if (bytesEqual(b, keyStart, keyEnd, MEDIA)) {
      if (sawMedia || b[i] !== OPEN_BRACE) return NOT_FAST;
      sawMedia = true;
      i = scanMediaObject(b, i);
      if (i === NOT_FAST) return NOT_FAST;
    } else {
      if (b[i] !== QUOTE) return NOT_FAST;
      const valueStart = i + 1;
      const valueEnd = stringEnd(b, valueStart);
      if (valueEnd === NOT_FAST) return NOT_FAST;
      if (bytesEqual(b, keyStart, keyEnd, EVENT)) {
        if (sawEvent || !bytesEqual(b, valueStart, valueEnd, MEDIA)) return NOT_FAST;
        sawEvent = true;
      }
      i = valueEnd + 1;
    }
    i = skipSpace(b, i);
    if (b[i] === COMMA) {
      i = skipSpace(b, i + 1);
      continue;
    }
    if (b[i] !== CLOSE_BRACE) return NOT_FAST;
    break;
  }
  if (skipSpace(b, i + 1) !== b.length) return NOT_FAST;
  if (!sawEvent || payloadStart === NOT_FAST) return NOT_FAST;
  return decodeBase64Into(b, payloadStart, payloadEnd, out);
}
