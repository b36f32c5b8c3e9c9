// The console's way into the API: the session cookie instead of an API key. authorize() calls this when a request
// has no Authorization header, so a console page reaches exactly the routes, scopes, limits and audit entries an
// API key does. Writes must carry the session's CSRF token in a header, and a request from another origin is
// refused outright, so another site can neither submit a form nor open the live feed as the user.
import { and, eq } from "drizzle-orm";
import type { Context } from "hono";
import { accounts, consoleSessions, type Jurisdiction, type UserRole, users } from "../../db/schema.ts";
import type { AppEnv, AuthContext } from "../../env.ts";
import { ProblemError } from "../../lib/problem.ts";
import { ALL_SCOPES, SCOPES } from "../../lib/scopes.ts";
import { useHomeDatabase } from "../../middleware/database.ts";
import { allDatabases } from "../../residency/residency.ts";
import { CSRF_HEADER, csrfTokenFor, readSessionToken, sameSecret } from "./session-token.ts";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Owners and admins hold every scope; members everything but managing keys (and so users). */
export function scopesOfRole(role: UserRole): string[] {
  return role === "member" ? SCOPES.filter((s) => s !== "keys:admin") : [ALL_SCOPES];
}

function signedOut(detail: string): ProblemError {
  return new ProblemError("unauthorized", detail, { headers: { "www-authenticate": 'Bearer realm="aybiza"' } });
}

export type SessionRow = {
  sessionId: string;
  userId: string;
  email: string;
  role: UserRole;
  plan: string;
  jurisdiction: Jurisdiction;
  accountName: string;
  expiresAt: Date;
  revokedAt: Date | null;
};

/** The session behind a cookie value, from whichever database holds its account; undefined when there is none. */
export async function findSession(c: Context<AppEnv>, token: string): Promise<SessionRow | undefined> {
  const presented = await readSessionToken(token);
  if (!presented) return undefined;
  const answers = await Promise.all(
    allDatabases(c.env).map(async ({ url }) => {
      const [row] = await c.var.databases
        .byUrl(url)
        .select({
          sessionId: consoleSessions.id,
          userId: users.id,
          email: users.email,
          role: users.role,
          plan: accounts.plan,
          jurisdiction: accounts.jurisdiction,
          accountName: accounts.name,
          expiresAt: consoleSessions.expiresAt,
          revokedAt: consoleSessions.revokedAt,
        })
        .from(consoleSessions)
        .innerJoin(users, and(eq(users.tenantId, consoleSessions.tenantId), eq(users.id, consoleSessions.userId)))
        .innerJoin(accounts, eq(accounts.id, consoleSessions.tenantId))
        .where(and(eq(consoleSessions.tenantId, presented.tenantId), eq(consoleSessions.tokenHash, presented.hash)))
        .limit(1);
      return row;
    }),
  );
  return answers.find((a) => a !== undefined);
}

export async function sessionAuth(c: Context<AppEnv>, token: string): Promise<AuthContext> {
  const origin = c.req.header("origin");
  if (origin !== undefined && origin !== new URL(c.req.url).origin) {
    throw new ProblemError("csrf-failed", "A console session cannot be used from another origin.");
  }
  if (!SAFE_METHODS.has(c.req.method)) {
    const sent = c.req.header(CSRF_HEADER) ?? "";
    if (!sameSecret(sent, await csrfTokenFor(token))) {
      throw new ProblemError(
        "csrf-failed",
        "This form is missing its CSRF token or the token is stale. Reload the page and try again.",
      );
    }
  }
  const presented = await readSessionToken(token);
  const session = presented ? await findSession(c, token) : undefined;
  if (!presented || !session) throw signedOut("You are not signed in.");
  if (session.revokedAt) throw signedOut("You signed out or your session was revoked. Sign in again.");
  if (session.expiresAt.getTime() <= Date.now()) throw signedOut("Your session has expired. Sign in again.");
  useHomeDatabase(c, session.jurisdiction);
  return {
    tenantId: presented.tenantId,
    keyId: null,
    userId: session.userId,
    role: session.role,
    scopes: scopesOfRole(session.role),
    plan: session.plan,
    jurisdiction: session.jurisdiction,
  };
}
