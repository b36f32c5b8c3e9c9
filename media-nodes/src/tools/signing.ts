// Webhook request signing. Tenants verify that a tool call came from us, unaltered and recently:
//   X-Aybiza-Timestamp: <unix seconds>
//   X-Aybiza-Signature: v1=<hex HMAC-SHA256(secret, `${timestamp}.${rawBody}`)>
// The secret is the tenant's own tool-signing secret (signing-keys.ts), so one tenant cannot forge requests to
// another's endpoint. During a rotation the header carries one signature per valid secret. docs/tools.md shows the
// tenant side.
import { createHmac, timingSafeEqual } from "node:crypto";

export const TIMESTAMP_HEADER = "X-Aybiza-Timestamp";
export const SIGNATURE_HEADER = "X-Aybiza-Signature";
/** How far a receiver should let the timestamp drift from its clock. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

export function signPayload(secret: string, timestampSeconds: number, body: string): string {
  const mac = createHmac("sha256", secret).update(`${timestampSeconds}.${body}`).digest("hex");
  return `v1=${mac}`;
}

/** Signed with every secret given (a rotation's new and old), comma-separated; none gives no headers. */
export function signatureHeaders(secrets: readonly string[], nowMs: number, body: string): Record<string, string> {
  if (secrets.length === 0) return {};
  const timestamp = Math.floor(nowMs / 1000);
  return {
    [TIMESTAMP_HEADER]: String(timestamp),
    [SIGNATURE_HEADER]: secrets.map((secret) => signPayload(secret, timestamp, body)).join(", "),
  };
}

/** What a tenant's server runs; exported so the docs' snippet is the tested code. */
export function verifySignature(
  secret: string,
  headers: { timestamp: string | null | undefined; signature: string | null | undefined },
  body: string,
  opts: { nowMs?: number; toleranceSeconds?: number } = {},
): { ok: true } | { ok: false; reason: string } {
  const timestamp = Number(headers.timestamp);
  if (!headers.timestamp || !Number.isInteger(timestamp))
    return { ok: false, reason: "missing or malformed timestamp" };
  const now = Math.floor((opts.nowMs ?? Date.now()) / 1000);
  if (Math.abs(now - timestamp) > (opts.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) {
    return { ok: false, reason: "timestamp outside tolerance" };
  }
  const expected = Buffer.from(signPayload(secret, timestamp, body));
  // A header may carry several comma-separated signatures (during a secret rotation); any may match.
  for (const candidate of (headers.signature ?? "").split(",")) {
    const got = Buffer.from(candidate.trim());
    if (got.length === expected.length && timingSafeEqual(got, expected)) return { ok: true };
  }
  return { ok: false, reason: "signature mismatch" };
}
