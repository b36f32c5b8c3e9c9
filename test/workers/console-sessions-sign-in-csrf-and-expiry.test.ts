// Console sessions through the real Worker: sign-in sets an HttpOnly, SameSite=Lax, Secure cookie backed by a
// session row; the cookie reaches the same API (same scopes, same audit trail, actor = the user); writes without
// the CSRF token, from another origin, after sign-out or after expiry are refused and write nothing; failed
// sign-ins are limited per e-mail address.
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { agents, auditLog, consoleSessions, signInFailures } from "../../workers/src/db/schema.ts";
import { call, withDb } from "./helpers.ts";

const PASSWORD = "correct horse battery";

async function owner(password = PASSWORD) {
  const email = `owner-${crypto.randomUUID()}@example.com`;
  const r = await call<{ account: { id: string }; user: { id: string }; apiKey: { key: string } }>(
    "POST",
    "/v1/accounts",
    {
      body: { name: "Console Co", email, password },
    },
  );
  expect(r.status).toBe(201);
  return { email, tenantId: r.body.account.id, userId: r.body.user.id, key: r.body.apiKey.key };
}

async function signIn(email: string, password: string, headers: Record<string, string> = {}) {
  return call("POST", "/v1/sessions", { body: { email, password }, headers });
}

function cookieOf(setCookie: string | null): string {
  const value = /aybiza_session=([^;]+)/.exec(setCookie ?? "")?.[1];
  if (!value) throw new Error(`no session cookie in ${setCookie}`);
  return `aybiza_session=${value}`;
}

async function session(email: string) {
  const r = await signIn(email, PASSWORD);
  expect(r.status).toBe(201);
  const cookie = cookieOf(r.headers.get("set-cookie"));
  const me = await call<{ csrfToken: string; user: { role: string } }>("GET", "/v1/sessions/current", {
    headers: { cookie },
  });
  expect(me.status).toBe(200);
  return { cookie, csrf: me.body.csrfToken, setCookie: r.headers.get("set-cookie") ?? "" };
}

const agentCount = (tenantId: string) =>
  withDb(async (db) => (await db.select().from(agents).where(eq(agents.tenantId, tenantId))).length);

describe("console sessions", () => {
  it("signs in with the password and sets a hardened cookie backed by a session row", async () => {
    const o = await owner();
    const s = await session(o.email);
    expect(s.setCookie).toMatch(/HttpOnly/i);
    expect(s.setCookie).toMatch(/SameSite=Lax/i);
    expect(s.setCookie).toMatch(/Secure/i); // edge.test is not localhost
    const rows = await withDb((db) =>
      db.select().from(consoleSessions).where(eq(consoleSessions.tenantId, o.tenantId)),
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]?.userId).toBe(o.userId);
    // Only a hash of the token is stored.
    expect(s.cookie).not.toContain(rows[0]?.tokenHash ?? "-");
  });

  it("refuses a wrong password with 401, opens no session and counts the failure", async () => {
    const o = await owner();
    const r = await signIn(o.email, "not the password");
    expect(r.status).toBe(401);
    expect(r.headers.get("set-cookie")).toBeNull();
    const rows = await withDb((db) =>
      db.select().from(consoleSessions).where(eq(consoleSessions.tenantId, o.tenantId)),
    );
    expect(rows).toHaveLength(0);
    const failures = await withDb((db) =>
      db
        .select()
        .from(signInFailures)
        .where(eq(signInFailures.key, `email:${o.email.toLowerCase()}`)),
    );
    expect(failures).toHaveLength(1);
  });

  it("limits failed sign-ins per e-mail: after five, even the right password waits", async () => {
    const o = await owner();
    for (let i = 0; i < 5; i++) expect((await signIn(o.email, `wrong ${i}`)).status).toBe(401);
    const limited = await signIn(o.email, PASSWORD);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("lets the cookie use the API with the user's role; a write needs the CSRF token and is audited as the user", async () => {
    const o = await owner();
    const s = await session(o.email);
    expect((await call("GET", "/v1/agents", { headers: { cookie: s.cookie } })).status).toBe(200);

    const body = { name: "Desk", config: { systemPrompt: "Be brief." } };
    const noCsrf = await call<{ type: string }>("POST", "/v1/agents", { body, headers: { cookie: s.cookie } });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body.type).toMatch(/csrf-failed$/);
    const wrongCsrf = await call("POST", "/v1/agents", {
      body,
      headers: { cookie: s.cookie, "x-csrf-token": "0".repeat(64) },
    });
    expect(wrongCsrf.status).toBe(403);
    const otherOrigin = await call("POST", "/v1/agents", {
      body,
      headers: { cookie: s.cookie, "x-csrf-token": s.csrf, origin: "https://evil.example" },
    });
    expect(otherOrigin.status).toBe(403);
    expect(await agentCount(o.tenantId)).toBe(0);

    const ok = await call<{ id: string }>("POST", "/v1/agents", {
      body,
      headers: { cookie: s.cookie, "x-csrf-token": s.csrf },
    });
    expect(ok.status).toBe(201);
    const [entry] = await withDb((db) =>
      db
        .select()
        .from(auditLog)
        .where(and(eq(auditLog.tenantId, o.tenantId), eq(auditLog.action, "agent.create"))),
    );
    expect(entry).toMatchObject({ actorType: "user", actorId: o.userId, targetId: ok.body.id });
  });

  it("signs out by revoking the row: the same cookie is refused afterwards", async () => {
    const o = await owner();
    const s = await session(o.email);
    const out = await call("POST", "/v1/sessions/current/revoke", {
      headers: { cookie: s.cookie, "x-csrf-token": s.csrf },
    });
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toMatch(/aybiza_session=;/);
    const after = await call<{ detail: string }>("GET", "/v1/agents", { headers: { cookie: s.cookie } });
    expect(after.status).toBe(401);
    expect(after.body.detail).toMatch(/signed out|revoked/);
  });

  it("refuses an expired session with 401 and writes nothing", async () => {
    const o = await owner();
    const s = await session(o.email);
    await withDb((db) =>
      db
        .update(consoleSessions)
        .set({ expiresAt: new Date(Date.now() - 1000) })
        .where(eq(consoleSessions.tenantId, o.tenantId)),
    );
    const r = await call<{ detail: string }>("POST", "/v1/agents", {
      body: { name: "Late", config: { systemPrompt: "x" } },
      headers: { cookie: s.cookie, "x-csrf-token": s.csrf },
    });
    expect(r.status).toBe(401);
    expect(r.body.detail).toMatch(/expired/);
    expect(await agentCount(o.tenantId)).toBe(0);
  });

  it("lets only the owner add users; the new user signs in as a member without keys:admin", async () => {
    const o = await owner();
    const s = await session(o.email);
    const email = `member-${crypto.randomUUID()}@example.com`;
    const added = await call("POST", "/v1/users", {
      body: { email, password: "another long password" },
      headers: { cookie: s.cookie, "x-csrf-token": s.csrf },
    });
    expect(added.status).toBe(201);
    const m = await signIn(email, "another long password");
    expect(m.status).toBe(201);
    const cookie = cookieOf(m.headers.get("set-cookie"));
    expect((await call("GET", "/v1/agents", { headers: { cookie } })).status).toBe(200);
    expect((await call("GET", "/v1/api-keys", { headers: { cookie } })).status).toBe(403);
  });
});
