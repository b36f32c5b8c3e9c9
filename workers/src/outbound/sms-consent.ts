// Consent by SMS. Phase 2 of consent: a record created with the `sms` method starts `pending` and a confirmation
// text goes out; the person's YES makes it active. STOP (and the other carrier opt-out words) revokes every
// consent the tenant holds for that number, whatever its purpose or method.
import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import { consentRecords } from "../db/schema.ts";
import type { Db } from "../db/types.ts";
import { writeAudit } from "../lib/audit.ts";
import { smsIntent } from "./consent-check.ts";

export type SmsConsentOutcome =
  | { intent: "opt-in"; confirmed: string[] }
  | { intent: "opt-out"; revoked: string[] }
  | { intent: "other" };

/** Applies the reply and audits each record it changed (actor: system, the person's own SMS), atomically. */
export async function applyConsentReply(
  db: Db,
  input: { tenantId: string; phoneNumber: string; body: string; requestId?: string | undefined },
): Promise<SmsConsentOutcome> {
  return db.transaction(async (tx) => {
    const outcome = await changeConsent(tx as unknown as Db, input);
    const changed =
      outcome.intent === "opt-in" ? outcome.confirmed : outcome.intent === "opt-out" ? outcome.revoked : [];
    for (const consentId of changed) {
      await writeAudit(
        tx as unknown as Db,
        { tenantId: input.tenantId, type: "system", id: null },
        {
          action: outcome.intent === "opt-in" ? "consent.confirm" : "consent.revoke",
          targetType: "consent",
          targetId: consentId,
        },
        input.requestId,
      );
    }
    return outcome;
  });
}

async function changeConsent(
  db: Db,
  input: { tenantId: string; phoneNumber: string; body: string },
): Promise<SmsConsentOutcome> {
  const intent = smsIntent(input.body);
  if (intent === "opt-in") {
    const rows = await db
      .update(consentRecords)
      .set({ status: "active", optedInAt: sql`now()` })
      .where(
        and(
          eq(consentRecords.tenantId, input.tenantId),
          eq(consentRecords.phoneNumber, input.phoneNumber),
          eq(consentRecords.status, "pending"),
          eq(consentRecords.verificationMethod, "sms"),
          isNull(consentRecords.revokedAt),
        ),
      )
      .returning({ id: consentRecords.id });
    return { intent, confirmed: rows.map((r) => r.id) };
  }
  if (intent === "opt-out") {
    const rows = await db
      .update(consentRecords)
      .set({ status: "revoked", revokedAt: sql`now()` })
      .where(
        and(
          eq(consentRecords.tenantId, input.tenantId),
          eq(consentRecords.phoneNumber, input.phoneNumber),
          inArray(consentRecords.status, ["pending", "active"]),
        ),
      )
      .returning({ id: consentRecords.id });
    return { intent, revoked: rows.map((r) => r.id) };
  }
  return { intent: "other" };
}

/** The text that asks for the YES. Names the tenant and the purpose, and says how to refuse. */
export function confirmationText(tenantName: string, purpose: string): string {
  return `${tenantName}: reply YES to agree to ${purpose} calls to this number. Reply STOP to opt out.`;
}

export const CONFIRMED_REPLY = "Thanks, you're confirmed. Reply STOP at any time to opt out.";
