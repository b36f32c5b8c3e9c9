// Whether a number may be called for a purpose, judged from the tenant's consent records for that number.
// Records are never edited except to revoke them, so the answer is always explainable from the rows.
import type { ConsentStatus, ConsentType } from "../db/schema.ts";

export interface ConsentEvidence {
  id: string;
  type: ConsentType;
  status: ConsentStatus;
  optedInAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  createdAt: Date;
}

export const CONSENT_REFUSALS = ["consent-missing", "consent-revoked", "consent-expired"] as const;
export type ConsentRefusal = (typeof CONSENT_REFUSALS)[number];

export type ConsentVerdict =
  | { ok: true; consentId: string }
  | { ok: false; reason: ConsentRefusal; detail: string; consentId?: string | undefined };

function isRevoked(record: ConsentEvidence): boolean {
  return record.status === "revoked" || record.revokedAt !== null;
}

function isExpired(record: ConsentEvidence, now: number): boolean {
  return record.expiresAt !== null && record.expiresAt.getTime() <= now;
}

/**
 * Allowed when some record of exactly this purpose is active, unrevoked and unexpired. Otherwise the newest
 * record of the purpose names the reason: a later opt-in after a revocation counts, a revocation after an
 * opt-in wins. A pending record (SMS double opt-in not yet confirmed) is no consent.
 */
export function judgeConsent(records: readonly ConsentEvidence[], purpose: ConsentType, now: number): ConsentVerdict {
  const relevant = records.filter((record) => record.type === purpose);
  const valid = relevant.find((record) => record.status === "active" && !isRevoked(record) && !isExpired(record, now));
  if (valid) return { ok: true, consentId: valid.id };
  const newest = [...relevant].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())[0];
  if (!newest)
    return { ok: false, reason: "consent-missing", detail: `No ${purpose} consent is on record for this number.` };
  if (isRevoked(newest)) {
    return {
      ok: false,
      reason: "consent-revoked",
      detail: `The ${purpose} consent for this number was revoked.`,
      consentId: newest.id,
    };
  }
  if (isExpired(newest, now)) {
    return {
      ok: false,
      reason: "consent-expired",
      detail: `The ${purpose} consent for this number has expired.`,
      consentId: newest.id,
    };
  }
  return {
    ok: false,
    reason: "consent-missing",
    detail: `The ${purpose} consent for this number is waiting for the person to reply YES to the confirmation SMS.`,
    consentId: newest.id,
  };
}

/** Keywords carriers and the CTIA treat as opt-out and opt-in; matched on the whole trimmed message. */
const STOP_WORDS = new Set(["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]);
const YES_WORDS = new Set(["YES", "Y", "START", "UNSTOP", "CONFIRM"]);

export function smsIntent(body: string): "opt-in" | "opt-out" | "other" {
  const word = body
    .trim()
    .toUpperCase()
    .replace(/[.!\s]+$/g, "");
  if (STOP_WORDS.has(word)) return "opt-out";
  if (YES_WORDS.has(word)) return "opt-in";
  return "other";
}
