// Console session tokens: `cs_<account ID>_<64 hex>` in an HttpOnly cookie. Like API keys, the account ID lets
// the lookup go to the tenant's rows and only a SHA-256 is stored. The CSRF token is derived from the session
// token (SHA-256 of a labelled copy): a page can only know it if the server rendered it into the page, because
// the cookie itself is HttpOnly and other origins cannot read our pages.
import { randomHex, sha256Hex } from "../../lib/crypto.ts";
import { type AccountId, isAccountId } from "../../lib/ids.ts";

export const SESSION_COOKIE = "aybiza_session";
export const CSRF_HEADER = "x-csrf-token";
export const CSRF_FIELD = "_csrf";
/** A console session lasts 12 hours from sign-in, then the user signs in again. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

const TOKEN_PATTERN = /^cs_(AYB-[A-Z0-9-]+)_([0-9a-f]{64})$/;

export function mintSessionToken(tenantId: AccountId): string {
  return `cs_${tenantId}_${randomHex(32)}`;
}

export async function readSessionToken(token: string): Promise<{ tenantId: AccountId; hash: string } | null> {
  const m = TOKEN_PATTERN.exec(token);
  const tenantId = m?.[1];
  if (!tenantId || !isAccountId(tenantId)) return null;
  return { tenantId, hash: await sha256Hex(token) };
}

export function csrfTokenFor(sessionToken: string): Promise<string> {
  return sha256Hex(`csrf:${sessionToken}`);
}

/** Equal strings, compared in time that does not depend on where they differ. */
export function sameSecret(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
