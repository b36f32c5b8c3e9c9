// Console sign-in: find the e-mail's users in every database, check the password, and open a session row. Failed
// attempts are counted per e-mail address and per client IP over a sliding window; past either limit the
// password is not even checked, so guessing costs the guesser time, not us CPU.
import { and, eq, gte, lt, sql } from "drizzle-orm";
import type { Context } from "hono";
import { accounts, consoleSessions, signInFailures, users } from "../../db/schema.ts";
import type { AppEnv } from "../../env.ts";
import { writeAudit } from "../../lib/audit.ts";
import { sha256Hex } from "../../lib/crypto.ts";
import { newResourceId } from "../../lib/ids.ts";
import { useHomeDatabase } from "../../middleware/database.ts";
import { allDatabases } from "../../residency/residency.ts";
import { DUMMY_HASH, hashPassword, needsRehash, verifyPassword } from "./password.ts";
import { mintSessionToken, SESSION_TTL_MS } from "./session-token.ts";

export const SIGN_IN_WINDOW_MS = 15 * 60 * 1000;
/** Failed attempts allowed per e-mail address, and per client IP, within the window. */
export const MAX_FAILURES_PER_EMAIL = 5;
export const MAX_FAILURES_PER_IP = 20;

export type SignInResult =
  | { ok: true; token: string; sessionId: string; userId: string; tenantId: string; expiresAt: Date }
  | { ok: false; reason: "wrong-credentials" }
  | { ok: false; reason: "rate-limited"; retryAfterMs: number };

export function clientIp(c: Context<AppEnv>): string {
  return c.req.header("cf-connecting-ip") ?? c.req.header("x-real-ip") ?? "unknown";
}

export async function signIn(c: Context<AppEnv>, email: string, password: string): Promise<SignInResult> {
  const global = c.var.db;
  const keys = [`email:${email.toLowerCase()}`, `ip:${clientIp(c)}`];
  const since = new Date(Date.now() - SIGN_IN_WINDOW_MS);
  await global.delete(signInFailures).where(lt(signInFailures.at, since));
  const counts = await global
    .select({ key: signInFailures.key, n: sql<number>`count(*)::int`, oldest: sql<Date>`min(${signInFailures.at})` })
    .from(signInFailures)
    .where(
      and(
        sql`${signInFailures.key} in (${sql.join(
          keys.map((k) => sql`${k}`),
          sql`, `,
        )})`,
        gte(signInFailures.at, since),
      ),
    )
    .groupBy(signInFailures.key);
  for (const row of counts) {
    const limit = row.key.startsWith("email:") ? MAX_FAILURES_PER_EMAIL : MAX_FAILURES_PER_IP;
    if (row.n >= limit) {
      const oldest = new Date(row.oldest).getTime();
      return {
        ok: false,
        reason: "rate-limited",
        retryAfterMs: Math.max(1000, oldest + SIGN_IN_WINDOW_MS - Date.now()),
      };
    }
  }

  // The same address may be a user of more than one account (and in either jurisdiction): the password decides.
  const candidates = (
    await Promise.all(
      allDatabases(c.env).map(({ url }) =>
        c.var.databases
          .byUrl(url)
          .select({
            tenantId: users.tenantId,
            userId: users.id,
            passwordHash: users.passwordHash,
            jurisdiction: accounts.jurisdiction,
          })
          .from(users)
          .innerJoin(accounts, eq(accounts.id, users.tenantId))
          .where(sql`lower(${users.email}) = ${email.toLowerCase()}`),
      ),
    )
  ).flat();
  let match: (typeof candidates)[number] | undefined;
  for (const candidate of candidates) {
    if (candidate.passwordHash && (await verifyPassword(password, candidate.passwordHash))) {
      match = candidate;
      break;
    }
  }
  if (candidates.length === 0) await verifyPassword(password, DUMMY_HASH);
  if (!match) {
    await global.insert(signInFailures).values(keys.map((key) => ({ key })));
    return { ok: false, reason: "wrong-credentials" };
  }

  const home = useHomeDatabase(c, match.jurisdiction);
  const token = mintSessionToken(match.tenantId as Parameters<typeof mintSessionToken>[0]);
  const sessionId = newResourceId("ses");
  const expiresAt = new Date(Date.now() + SESSION_TTL_MS);
  const tokenHash = await sha256Hex(token);
  const rehash = match.passwordHash && needsRehash(match.passwordHash) ? await hashPassword(password) : undefined;
  await home.transaction(async (tx) => {
    await tx
      .insert(consoleSessions)
      .values({ tenantId: match.tenantId, id: sessionId, userId: match.userId, tokenHash, expiresAt });
    if (rehash) {
      await tx
        .update(users)
        .set({ passwordHash: rehash })
        .where(and(eq(users.tenantId, match.tenantId), eq(users.id, match.userId)));
    }
    await writeAudit(
      tx,
      { tenantId: match.tenantId, type: "user", id: match.userId },
      { action: "session.create", targetType: "session", targetId: sessionId },
      c.var.requestId,
    );
  });
  return { ok: true, token, sessionId, userId: match.userId, tenantId: match.tenantId, expiresAt };
}
