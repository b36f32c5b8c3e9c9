// Support-call verification. A caller reads out their account ID; the support agent's tool starts a verification,
// which texts a one-time code to the phone on that account; the caller reads the code back and the tool checks it.
// The account ID is parsed with its check character first, so a misheard ID is refused before any lookup.
import { and, eq } from "drizzle-orm";
import { type AccountId, parseAccountId } from "../../../shared/ids.ts";
import { accounts, verifications } from "../db/schema.ts";
import type { Db } from "../db/types.ts";
import { newResourceId } from "../lib/ids.ts";
import { type DatabaseBindings, withEveryDatabase } from "../residency/databases.ts";
import type { TwilioCredentials } from "../telephony/twilio-rest.ts";
import { sendTwilioSms } from "../telephony/twilio-rest.ts";
import {
  type AttemptOutcome,
  CODE_TTL_MS,
  generateCode,
  hashCode,
  judgeAttempt,
  MAX_ATTEMPTS,
  maskPhone,
  newSalt,
  normalizeSpokenCode,
  type VerificationState,
} from "./codes.ts";

export type StartResult =
  | { ok: true; id: string; accountId: AccountId; sentTo: string; expiresAt: number }
  /** The ID as heard does not parse: wrong length, letters IDs never use, or a failed check character. */
  | { ok: false; reason: "unparseable-account-id"; detail: string; failure: "format" | "alphabet" | "check" }
  | { ok: false; reason: "unknown-account"; detail: string; accountId: AccountId }
  | { ok: false; reason: "no-phone-on-file"; detail: string; accountId: AccountId }
  | { ok: false; reason: "no-sender"; detail: string; accountId: AccountId }
  | { ok: false; reason: "sms-failed"; detail: string; accountId: AccountId };

export interface StartContext {
  /** The support tenant's database (where the verification is kept). */
  db: Db;
  /** Every database, to find the account wherever it lives. */
  findAccount: (id: AccountId) => Promise<{ ownerPhone: string | null } | undefined>;
  twilio: TwilioCredentials | undefined;
  /** The number the code is texted from (one of the support tenant's); asked only once the account is found. */
  smsFrom: () => Promise<string | undefined>;
  secret: string | undefined;
  now?: number;
}

export async function startVerification(
  ctx: StartContext,
  input: { tenantId: string; keyId: string | null; accountIdAsHeard: string },
): Promise<StartResult> {
  const parsed = parseAccountId(input.accountIdAsHeard);
  if (!parsed.ok)
    return { ok: false, reason: "unparseable-account-id", detail: parsed.message, failure: parsed.reason };
  const accountId = parsed.id;
  const account = await ctx.findAccount(accountId);
  if (!account) return { ok: false, reason: "unknown-account", detail: `No account ${accountId}.`, accountId };
  if (!account.ownerPhone) {
    return {
      ok: false,
      reason: "no-phone-on-file",
      detail: `Account ${accountId} has no phone number on file.`,
      accountId,
    };
  }
  const from = await ctx.smsFrom();
  if (!from)
    return {
      ok: false,
      reason: "no-sender",
      detail: "The account has no Twilio number to send the code from.",
      accountId,
    };
  if (!ctx.twilio) return { ok: false, reason: "sms-failed", detail: "SMS is not configured.", accountId };

  const now = ctx.now ?? Date.now();
  const id = newResourceId("ver");
  const code = generateCode();
  const salt = newSalt();
  const expiresAt = now + CODE_TTL_MS;
  const sentTo = maskPhone(account.ownerPhone);
  // Stored before sending: a code that reached a phone always has its row to be checked against.
  await ctx.db.insert(verifications).values({
    tenantId: input.tenantId,
    id,
    accountId,
    phoneMasked: sentTo,
    codeHash: await hashCode(code, id, salt, ctx.secret),
    salt,
    status: "pending",
    attempts: 0,
    expiresAt: new Date(expiresAt),
    requestedByKeyId: input.keyId,
  });
  try {
    await sendTwilioSms(ctx.twilio, {
      to: account.ownerPhone,
      from,
      body: `Your AYBIZA verification code is ${code}. It expires in 5 minutes. Never share it with anyone who calls you.`,
    });
  } catch (error) {
    await ctx.db
      .update(verifications)
      .set({ status: "expired", resolvedAt: new Date(now) })
      .where(and(eq(verifications.tenantId, input.tenantId), eq(verifications.id, id)));
    return { ok: false, reason: "sms-failed", detail: `The code could not be sent: ${String(error)}`, accountId };
  }
  return { ok: true, id, accountId, sentTo, expiresAt };
}

export type CheckResult =
  | { found: false }
  | { found: true; accountId: string; outcome: AttemptOutcome["outcome"] | "unreadable"; attemptsLeft: number };

/**
 * Judges one read-back. Reads and writes the row under a row lock, so two attempts racing each other count twice.
 * A read-back that is not six digits ("unreadable") does not cost an attempt.
 */
export async function checkVerification(
  db: Db,
  input: { tenantId: string; id: string; codeAsHeard: string; secret: string | undefined; now?: number },
): Promise<CheckResult> {
  const [row] = await db
    .select()
    .from(verifications)
    .where(and(eq(verifications.tenantId, input.tenantId), eq(verifications.id, input.id)))
    .for("update");
  if (!row) return { found: false };
  const code = normalizeSpokenCode(input.codeAsHeard);
  const state: VerificationState = {
    status: row.status,
    attempts: row.attempts,
    expiresAt: row.expiresAt.getTime(),
    codeHash: row.codeHash,
  };
  if (code === undefined && row.status === "pending" && (input.now ?? Date.now()) < state.expiresAt) {
    return { found: true, accountId: row.accountId, outcome: "unreadable", attemptsLeft: MAX_ATTEMPTS - row.attempts };
  }
  const now = input.now ?? Date.now();
  const result = judgeAttempt(state, await hashCode(code ?? "", row.id, row.salt, input.secret), now);
  const changed = result.state.status !== row.status || result.state.attempts !== row.attempts;
  if (changed) {
    await db
      .update(verifications)
      .set({
        status: result.state.status,
        attempts: result.state.attempts,
        resolvedAt: result.state.status === "pending" ? null : new Date(now),
      })
      .where(and(eq(verifications.tenantId, input.tenantId), eq(verifications.id, input.id)));
  }
  return {
    found: true,
    accountId: row.accountId,
    outcome: result.outcome,
    attemptsLeft: result.outcome === "incorrect" ? result.attemptsLeft : 0,
  };
}

/** Looks an account up in one database. */
export async function accountOwnerPhone(db: Db, id: AccountId): Promise<{ ownerPhone: string | null } | undefined> {
  const [row] = await db.select({ ownerPhone: accounts.ownerPhone }).from(accounts).where(eq(accounts.id, id)).limit(1);
  return row;
}

/**
 * The accounts `tenantId` may verify, as `findAccount` for startVerification: a support line (listed in
 * SUPPORT_TENANT_IDS) any account, in whichever jurisdiction's database it lives; any other tenant only its own,
 * so no tenant can text codes to strangers. The same rule for the API and for an agent's tool during a call.
 */
export function verifiableAccounts(
  env: DatabaseBindings & { SUPPORT_TENANT_IDS?: string | undefined },
  db: Db,
  tenantId: string,
): (id: AccountId) => Promise<{ ownerPhone: string | null } | undefined> {
  const support = new Set(
    (env.SUPPORT_TENANT_IDS ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const mayVerifyAnyone = support.has(tenantId);
  return async (id) => {
    if (!mayVerifyAnyone && id !== tenantId) return undefined;
    return withEveryDatabase(env, db, async (dbs) => {
      for (const each of dbs) {
        const found = await accountOwnerPhone(each, id);
        if (found) return found;
      }
      return undefined;
    });
  };
}
