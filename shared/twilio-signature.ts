/**
 * X-Twilio-Signature, computed as Twilio does (protocols.md §1.5; twilio-node `webhooks.ts`):
 * base64(HMAC-SHA1(authToken, url + Σ key+value over the POST params sorted by key)).
 */

/** Form POST params; a key may repeat (StatusCallbackEvent=initiated&StatusCallbackEvent=answered). */
export type TwilioParams = Readonly<Record<string, string | readonly string[]>> | URLSearchParams;

const encoder = new TextEncoder();

function signedData(url: string, params: TwilioParams): string {
  const byKey = new Map<string, string[]>();
  const entries: Iterable<[string, string | readonly string[]]> =
    params instanceof URLSearchParams ? params : Object.entries(params);
  for (const [key, value] of entries) {
    const values = byKey.get(key) ?? [];
    byKey.set(key, values.concat(value));
  }
  // Default sort (UTF-16 code units) is what twilio-node uses; it only differs from byte order for
  // astral characters, which Twilio's parameter names never contain.
  let data = url;
  for (const key of [...byKey.keys()].sort()) {
    for (const value of [...new Set(byKey.get(key))].sort()) data += key + value;
  }
  return data;
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

async function hmacKey(authToken: string): Promise<CryptoKey> {
  if (authToken === "") throw new Error("Twilio auth token is empty");
  return crypto.subtle.importKey("raw", encoder.encode(authToken), { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
}

async function sign(key: CryptoKey, url: string, params: TwilioParams): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(signedData(url, params)));
  return toBase64(new Uint8Array(mac));
}

/** The signature Twilio sends for a request to exactly `url` with these form params (`{}` for GET and WS upgrades). */
export async function computeTwilioSignature(
  authToken: string,
  url: string,
  params: TwilioParams = {},
): Promise<string> {
  return sign(await hmacKey(authToken), url, params);
}

function constantTimeEqual(a: string, b: string): boolean {
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  // Length is fixed by SHA-1, not secret, so an early exit on it leaks nothing.
  if (left.length !== right.length) return false;
  let diff = 0;
  for (let i = 0; i < left.length; i++) diff |= left[i]! ^ right[i]!;
  return diff === 0;
}

const AUTHORITY = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)/i;

/** The URL with its port removed and with the scheme's default port added: Twilio may have signed either. */
function portVariants(url: string): string[] {
  const match = AUTHORITY.exec(url);
  if (!match) return [url];
  const [prefix, scheme = "", authority = ""] = match;
  const userInfoEnd = authority.lastIndexOf("@") + 1;
  const hostAndPort = authority.slice(userInfoEnd);
  // In an IPv6 literal the colons before "]" are not a port.
  const portAt = hostAndPort.indexOf(":", hostAndPort.lastIndexOf("]") + 1);
  const host = portAt === -1 ? hostAndPort : hostAndPort.slice(0, portAt);
  const head = scheme + authority.slice(0, userInfoEnd) + host;
  const rest = url.slice(prefix.length);
  if (portAt !== -1) return [head + rest, url];
  // twilio-node adds :80 to anything not https, wss:// included; 443 is what a wss URL means.
  const secure = /^(https|wss):\/\/$/i.test(scheme);
  return [url, `${head}${secure ? ":443" : ":80"}${rest}`];
}

// Node's `querystring.escape` keeps exactly the characters encodeURIComponent keeps: A-Z a-z 0-9 - . _ ~ ! ' ( ) *.
const legacyEscape = encodeURIComponent;

function legacyUnescape(text: string): string {
  const spaced = text.replaceAll("+", " ");
  try {
    return decodeURIComponent(spaced);
  } catch {
    // Like Node: decode the valid %XX escapes, keep the rest literally, then read the bytes as UTF-8.
    const bytes: number[] = [];
    for (let i = 0; i < spaced.length; i++) {
      const hex = spaced.slice(i + 1, i + 3);
      if (spaced[i] === "%" && /^[0-9a-f]{2}$/i.test(hex)) {
        bytes.push(Number.parseInt(hex, 16));
        i += 2;
      } else bytes.push(...encoder.encode(spaced[i]!));
    }
    return new TextDecoder().decode(new Uint8Array(bytes));
  }
}

const ARRAY_INDEX = /^(?:0|[1-9]\d{0,9})$/;

/**
 * The URL with its query re-encoded as Node's `querystring.parse` then `stringify` would, which some
 * back ends signed; twilio-node accepts it too, so a validator that refused it would drop real webhooks.
 */
function withLegacyQuery(url: string): string {
  const at = url.indexOf("?");
  if (at === -1 || at === url.length - 1) return url;
  const values = new Map<string, string[]>();
  for (const piece of url.slice(at + 1).split("&")) {
    if (piece === "") continue;
    const eq = piece.indexOf("=");
    const key = legacyUnescape(eq === -1 ? piece : piece.slice(0, eq));
    const value = eq === -1 ? "" : legacyUnescape(piece.slice(eq + 1));
    values.set(key, [...(values.get(key) ?? []), value]);
  }
  // Node builds a plain object, whose integer-like keys enumerate first, in numeric order.
  const isIndex = (key: string) => ARRAY_INDEX.test(key) && Number(key) < 2 ** 32 - 1;
  const keys = [...values.keys()];
  const ordered = [
    ...keys.filter(isIndex).sort((a, b) => Number(a) - Number(b)),
    ...keys.filter((key) => !isIndex(key)),
  ];
  const query = ordered
    .flatMap((key) => (values.get(key) ?? []).map((value) => `${legacyEscape(key)}=${legacyEscape(value)}`))
    .join("&");
  return `${url.slice(0, at)}?${query}`;
}

/** Every URL spelling twilio-node's `validateRequest` accepts, as-received forms first. */
function candidateUrls(url: string): string[] {
  const candidates = portVariants(url);
  let normalized: string | undefined;
  try {
    normalized = new URL(url).toString();
  } catch {
    // Not a URL the WHATWG parser accepts: only the as-received spellings can match.
  }
  if (normalized !== undefined) {
    const variants = portVariants(normalized);
    candidates.push(...variants, ...variants.map(withLegacyQuery));
  }
  return [...new Set(candidates)];
}

/**
 * True when `signature` is what Twilio would send for this request. `url` is the public URL Twilio
 * called (scheme and host as configured in Twilio, not as seen behind a proxy); for Media Streams
 * upgrades it is the `wss://` URL from `<Stream url>` with `{}` params.
 */
export async function validateTwilioSignature(
  authToken: string,
  signature: string | null | undefined,
  url: string,
  params: TwilioParams = {},
): Promise<boolean> {
  // An unset token must fail closed, not crash the webhook or match anything.
  if (!signature || authToken === "") return false;
  const key = await hmacKey(authToken);
  for (const candidate of candidateUrls(url)) {
    if (constantTimeEqual(signature, await sign(key, candidate, params))) return true;
  }
  return false;
}

/** Hex SHA-256 of a raw request body, as Twilio puts it in the `bodySHA256` query parameter. */
export async function twilioBodySha256(rawBody: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(rawBody)));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * JSON-body webhooks: the signature covers the URL (which carries `bodySHA256`) with no params,
 * and the body must hash to that `bodySHA256`.
 */
export async function validateTwilioSignatureWithBody(
  authToken: string,
  signature: string | null | undefined,
  url: string,
  rawBody: string,
): Promise<boolean> {
  let expectedHash: string | null;
  try {
    expectedHash = new URL(url).searchParams.get("bodySHA256");
  } catch {
    return false;
  }
  if (expectedHash === null || !(await validateTwilioSignature(authToken, signature, url, {}))) return false;
  return constantTimeEqual(expectedHash, await twilioBodySha256(rawBody));
}
