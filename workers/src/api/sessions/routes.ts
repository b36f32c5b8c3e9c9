// Console sessions: sign in (POST /v1/sessions sets the HttpOnly session cookie), who am I (GET
// /v1/sessions/current, with the CSRF token forms must carry) and sign out (POST /v1/sessions/current/revoke).
// The console pages call these like any other API client; see docs/console.md.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, eq, sql } from "drizzle-orm";
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { scopesOfRole } from "../../console/auth/session-auth.ts";
import { csrfTokenFor, SESSION_COOKIE, SESSION_TTL_MS } from "../../console/auth/session-token.ts";
import { signIn } from "../../console/auth/sign-in.ts";
import { accounts, consoleSessions, USER_ROLES, users } from "../../db/schema.ts";
import type { AppEnv } from "../../env.ts";
import { audit } from "../../lib/audit.ts";
import { sha256Hex } from "../../lib/crypto.ts";
import { ProblemError, problems } from "../../lib/problem.ts";
import { Timestamp } from "../../lib/schemas.ts";
import { authorize } from "../../middleware/auth.ts";
import { unitOfWork } from "../../middleware/unit-of-work.ts";
import { jsonBody, jsonResponse } from "../common.ts";

const SignInSchema = z
  .strictObject({
    email: z.email().max(320),
    password: z.string().min(1).max(200),
  })
  .openapi("SignIn");

const CurrentSessionSchema = z
  .object({
    user: z.object({ id: z.string(), email: z.string(), name: z.string().nullable(), role: z.enum(USER_ROLES) }),
    account: z.object({ id: z.string(), name: z.string(), jurisdiction: z.string(), plan: z.string() }),
    scopes: z.array(z.string()),
    csrfToken: z.string().openapi({ description: "Send as `x-csrf-token` on every write made with the cookie." }),
    expiresAt: Timestamp,
  })
  .openapi("CurrentSession");

const createSession = createRoute({
  method: "post",
  path: "/sessions",
  tags: ["Console sessions"],
  summary: "Sign in to the console",
  description:
    "Checks the e-mail and password and sets the `aybiza_session` cookie (HttpOnly, SameSite=Lax, Secure except on " +
    "localhost). Failed attempts are limited per e-mail address and per client IP (429 with Retry-After).",
  request: { body: jsonBody(SignInSchema) },
  responses: {
    201: jsonResponse(z.object({ userId: z.string(), accountId: z.string(), expiresAt: Timestamp }), "Signed in"),
    ...problems(400, 401, 403, 429),
  },
});

const currentSession = createRoute({
  method: "get",
  path: "/sessions/current",
  tags: ["Console sessions"],
  summary: "The signed-in user, their account and the CSRF token",
  security: [{ sessionCookie: [] }],
  middleware: [authorize()] as const,
  responses: { 200: jsonResponse(CurrentSessionSchema, "The session"), ...problems(401) },
});

const revokeSession = createRoute({
  method: "post",
  path: "/sessions/current/revoke",
  tags: ["Console sessions"],
  summary: "Sign out",
  description: "Revokes the session row (the cookie stops working everywhere at once) and clears the cookie.",
  security: [{ sessionCookie: [] }],
  middleware: [authorize(), unitOfWork()] as const,
  responses: { 204: { description: "Signed out" }, ...problems(401, 403) },
});

function isLocal(c: Context<AppEnv>): boolean {
  const host = new URL(c.req.url).hostname;
  return host === "localhost" || host === "127.0.0.1" || host === "[::1]";
}

function needSession(c: Context<AppEnv>): { userId: string } {
  const { userId } = c.var.auth;
  if (!userId) throw new ProblemError("unprocessable", "This operation is for console sessions, not API keys.");
  return { userId };
}

export const sessionsApi = new OpenAPIHono<AppEnv>()
  .openapi(createSession, async (c) => {
    // Login CSRF: another site must not sign a visitor in to an account of its choosing.
    const origin = c.req.header("origin");
    if (origin !== undefined && origin !== new URL(c.req.url).origin) {
      throw new ProblemError("csrf-failed", "Sign in from the console's own page.");
    }
    const body = c.req.valid("json");
    const result = await signIn(c, body.email, body.password);
    if (!result.ok) {
      if (result.reason === "rate-limited") {
        throw new ProblemError("rate-limited", "Too many failed sign-ins for this e-mail or network; wait and retry.", {
          headers: { "retry-after": String(Math.ceil(result.retryAfterMs / 1000)) },
        });
      }
      throw new ProblemError("unauthorized", "The e-mail or password is not right.");
    }
    setCookie(c, SESSION_COOKIE, result.token, {
      httpOnly: true,
      secure: !isLocal(c),
      sameSite: "Lax",
      path: "/",
      maxAge: Math.floor(SESSION_TTL_MS / 1000),
    });
    return c.json(
      { userId: result.userId, accountId: result.tenantId, expiresAt: result.expiresAt.toISOString() },
      201,
    );
  })
  .openapi(currentSession, async (c) => {
    const { userId } = needSession(c);
    const { tenantId } = c.var.auth;
    const token = getCookie(c, SESSION_COOKIE) ?? "";
    const [row] = await c.var.db
      .select({ user: users, account: accounts, expiresAt: consoleSessions.expiresAt })
      .from(users)
      .innerJoin(accounts, eq(accounts.id, users.tenantId))
      .innerJoin(
        consoleSessions,
        and(eq(consoleSessions.tenantId, users.tenantId), eq(consoleSessions.tokenHash, await sha256Hex(token))),
      )
      .where(and(eq(users.tenantId, tenantId), eq(users.id, userId)))
      .limit(1);
    if (!row) throw new ProblemError("unauthorized", "You are not signed in.");
    return c.json(
      {
        user: { id: row.user.id, email: row.user.email, name: row.user.name, role: row.user.role },
        account: {
          id: row.account.id,
          name: row.account.name,
          jurisdiction: row.account.jurisdiction,
          plan: row.account.plan,
        },
        scopes: scopesOfRole(row.user.role),
        csrfToken: await csrfTokenFor(token),
        expiresAt: row.expiresAt.toISOString(),
      },
      200,
    );
  })
  .openapi(revokeSession, async (c) => {
    needSession(c);
    const { tenantId } = c.var.auth;
    const token = getCookie(c, SESSION_COOKIE) ?? "";
    const [row] = await c.var.db
      .update(consoleSessions)
      .set({ revokedAt: sql`now()` })
      .where(and(eq(consoleSessions.tenantId, tenantId), eq(consoleSessions.tokenHash, await sha256Hex(token))))
      .returning({ id: consoleSessions.id });
    if (row) await audit(c, { action: "session.revoke", targetType: "session", targetId: row.id });
    deleteCookie(c, SESSION_COOKIE, { path: "/", secure: !isLocal(c) });
    return c.body(null, 204);
  });
