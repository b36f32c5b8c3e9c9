// Console passwords: PBKDF2-HMAC-SHA-256 through WebCrypto, stored as `pbkdf2-sha256$<iterations>$<salt>$<hash>`
// (base64url). OWASP's cheat sheet asks for 600,000 iterations of PBKDF2-HMAC-SHA-256; Cloudflare's production
// runtime refuses more than 100,000 (workerd#1346; local `wrangler dev` does not enforce the cap, so a higher
// count would pass every local test and fail every sign-up in production). We use the cap and say so in
// docs/console.md; the count is stored with each hash, so raising it later re-hashes at the next sign-in.
export const PBKDF2_ITERATIONS = 100_000;
/** The most a stored hash may ask for: a crafted row must not make verification do unbounded work. */
const MAX_ITERATIONS = 100_000;
const SALT_BYTES = 16;
const HASH_BITS = 256;

const b64u = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
function fromB64u(text: string): Uint8Array<ArrayBuffer> | null {
  try {
    const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
}

async function derive(password: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<Uint8Array> {
  const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, [
    "deriveBits",
  ]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    material,
    HASH_BITS,
  );
  return new Uint8Array(bits);
}

export async function hashPassword(password: string, iterations: number = PBKDF2_ITERATIONS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  return `pbkdf2-sha256$${iterations}$${b64u(salt)}$${b64u(await derive(password, salt, iterations))}`;
}

/** True when `password` matches `stored`; false for a wrong password and for anything that is not our format. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, count, saltText, hashText] = stored.split("$");
  const iterations = Number(count);
  if (scheme !== "pbkdf2-sha256" || !Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
    return false;
  }
  const salt = fromB64u(saltText ?? "");
  const expected = fromB64u(hashText ?? "");
  if (!salt || !expected || expected.length * 8 !== HASH_BITS) return false;
  const actual = await derive(password, salt, iterations);
  // Constant time over the whole hash.
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= (expected[i] ?? 0) ^ (actual[i] ?? 0);
  return diff === 0;
}

/** A stored hash made with fewer iterations than we use now: re-hash it at the next successful sign-in. */
export function needsRehash(stored: string): boolean {
  return Number(stored.split("$")[1]) < PBKDF2_ITERATIONS;
}

/** A dummy hash to verify against when the e-mail is unknown, so timing does not tell which addresses exist. */
export const DUMMY_HASH = "pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
