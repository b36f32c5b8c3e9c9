import { and, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { sessionAuth } from "../console/auth/session-auth.ts";
import { SESSION_COOKIE } from "../console/auth/session-token.ts";
import { accounts, apiKeys, type Jurisdiction } from "../db/schema.ts";
import type { Db } from "../db/types.ts";
import type { AppEnv, AuthContext } from "../env.ts";
import { readApiKey } from "../lib/api-key.ts";
import { ProblemError } from "../lib/problem.ts";
import { hasScope, type Scope } from "../lib/scopes.ts";
import { allDatabases, databaseUrlFor, namespaceFor } from "../residency/residency.ts";
import { useHomeDatabase } from "./database.ts";

/** last_used_at is a hint for humans; writing it at most once a minute keeps reads from becoming writes. */
const LAST_USED_GRANULARITY_MS = 60_000;

function unauthorized(detail: string): ProblemError {
  return new ProblemError("unauthorized", detail, { headers: { "www-authenticate": 'Bearer realm="aybiza"' } });
}

/**
 * Authenticates `Authorization: Bearer <key>` (or, with no Authorization header, the console's session cookie
 * with its CSRF token on writes: console/auth/session-auth.ts) and, when given, requires a scope. Sets `c.var.auth`
 * (tenant, key ID, scopes, plan, jurisdiction) and points `c.var.db` at the tenant's home database for the rest
 * of the request, so it must run before `unitOfWork()`. Missing, malformed, unknown or revoked key → 401; key
 * without the scope → 403; over the plan's API request rate → 429 with Retry-After.
 * Lookups are by (tenant, key hash), so a key can never resolve to another tenant.
 *
 * @example createRoute({ ..., middleware: [authorize("agents:write"), unitOfWork()] })
 */
export const authorize = (scope?: Scope): MiddlewareHandler<AppEnv> =>
  async function authorize(c, next) {
    const header = c.req.header("authorization");
    // The console's cookie counts only when no key is sent: a request is one principal, never a mix.
    const sessionToken = header === undefined ? getCookie(c, SESSION_COOKIE) : undefined;
    const auth = sessionToken !== undefined ? await sessionAuth(c, sessionToken) : await keyAuth(c, header ?? "");
    if (scope && !hasScope(auth.scopes, scope)) {
      throw new ProblemError(
        "insufficient-scope",
        auth.userId
          ? `Your role (${auth.role}) does not allow this; it needs the ${scope} scope.`
          : `This operation needs an API key with the ${scope} scope.`,
        { headers: { "www-authenticate": `Bearer realm="aybiza", error="insufficient_scope", scope="${scope}"` } },
      );
    }

    // The tenant's API request bucket (TenantLimiter, exact across all edge locations): over it → 429.
    const limiter = namespaceFor(c.env.TENANT_LIMITER, c.env, auth.jurisdiction).getByName(auth.tenantId);
    const bucket = await limiter.takeApiToken(auth.plan);
    if (!bucket.ok) {
      const retryAfter = Math.max(1, Math.ceil(bucket.retryAfterMs / 1000));
      throw new ProblemError(
        "rate-limited",
        `This account's plan allows ${bucket.limit} requests in a burst; retry later.`,
        {
          headers: { "retry-after": String(retryAfter) },
        },
      );
    }

    c.set("auth", auth);
    await next();
  };

async function keyAuth(c: Context<AppEnv>, header: string): Promise<AuthContext> {
  const match = /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(header);
  if (!match?.[1]) throw unauthorized("Send an API key as `Authorization: Bearer <key>`.");
  const presented = await readApiKey(match[1]);
  if (!presented) throw unauthorized("The API key is not valid.");

  const found = await findKey(c, presented);
  if (!found) throw unauthorized("The API key is not valid.");
  const { key, db } = found;
  if (key.revokedAt) throw unauthorized("The API key has been revoked.");

  if (!key.lastUsedAt || Date.now() - key.lastUsedAt.getTime() > LAST_USED_GRANULARITY_MS) {
    await db
      .update(apiKeys)
      .set({ lastUsedAt: sql`now()` })
      .where(
        and(
          eq(apiKeys.tenantId, presented.tenantId),
          eq(apiKeys.id, key.id),
          or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, sql`now() - interval '1 minute'`)),
        ),
      );
  }
  return {
    tenantId: presented.tenantId,
    keyId: key.id,
    userId: null,
    role: null,
    scopes: key.scopes,
    plan: key.plan,
    jurisdiction: key.jurisdiction,
  };
}

type PresentedKey = NonNullable<Awaited<ReturnType<typeof readApiKey>>>;

type KeyRow = {
  id: string;
  scopes: string[];
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  plan: string;
  jurisdiction: Jurisdiction;
};

/**
 * Account → home jurisdiction, learnt from earlier requests in this isolate. An account never changes
 * jurisdiction and IDs are never reused, so an entry cannot go stale; it only spares asking every database.
 */
const homes = new Map<string, Jurisdiction>();
const MAX_HOMES = 10_000;

function rememberHome(tenantId: string, jurisdiction: Jurisdiction): void {
  if (homes.has(tenantId)) return;
  if (homes.size >= MAX_HOMES) {
    const oldest = homes.keys().next();
    if (!oldest.done) homes.delete(oldest.value);
  }
  homes.set(tenantId, jurisdiction);
}

/**
 * Finds the presented key in its account's home database and makes that the request's database. The account
 * is in exactly one database; which one is cached, else every distinct database is asked in parallel (with
 * one configured database that is a single query, as before residency).
 */
async function findKey(c: Context<AppEnv>, presented: PresentedKey): Promise<{ key: KeyRow; db: Db } | undefined> {
  const asked = new Set<string>();
  const home = homes.get(presented.tenantId);
  if (home) {
    const url = databaseUrlFor(c.env, home);
    asked.add(url);
    const key = await keyIn(c.var.databases.byUrl(url), presented);
    if (key) return { key, db: useHomeDatabase(c, key.jurisdiction) };
  }
  const answers = await Promise.all(
    allDatabases(c.env)
      .filter(({ url }) => !asked.has(url))
      .map(async ({ url }) => ({ url, key: await keyIn(c.var.databases.byUrl(url), presented) })),
  );
  const hit = answers.find((a) => a.key !== undefined);
  if (!hit?.key) return undefined;
  const { key, url } = hit;
  if (databaseUrlFor(c.env, key.jurisdiction) !== url) {
    // Its rows were written before its jurisdiction had a database of its own: serve the account where its data
    // is (a foreign key would fail anywhere else), and say so, since calls go to the jurisdiction's database.
    console.warn(`account ${presented.tenantId} (${key.jurisdiction}) lives outside its jurisdiction's database`);
    c.set("db", c.var.databases.byUrl(url));
    return { key, db: c.var.db };
  }
  rememberHome(presented.tenantId, key.jurisdiction);
  return { key, db: useHomeDatabase(c, key.jurisdiction) };
}

async function keyIn(db: Db, presented: PresentedKey): Promise<KeyRow | undefined> {
  const [key] = await db
    .select({
      id: apiKeys.id,
      scopes: apiKeys.scopes,
      revokedAt: apiKeys.revokedAt,
      lastUsedAt: apiKeys.lastUsedAt,
      plan: accounts.plan,
      jurisdiction: accounts.jurisdiction,
    })
    .from(apiKeys)
    .innerJoin(accounts, eq(accounts.id, apiKeys.tenantId))
    .where(and(eq(apiKeys.tenantId, presented.tenantId), eq(apiKeys.keyHash, presented.hash)))
    .limit(1);
  return key;
}
