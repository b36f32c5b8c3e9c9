import { and, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { MiddlewareHandler } from "hono";
import { accounts, apiKeys } from "../db/schema.ts";
import type { AppEnv } from "../env.ts";
import { readApiKey } from "../lib/api-key.ts";
import { ProblemError } from "../lib/problem.ts";
import { hasScope, type Scope } from "../lib/scopes.ts";
import { namespaceFor } from "../residency/residency.ts";

/** last_used_at is a hint for humans; writing it at most once a minute keeps reads from becoming writes. */
const LAST_USED_GRANULARITY_MS = 60_000;

function unauthorized(detail: string): ProblemError {
  return new ProblemError("unauthorized", detail, { headers: { "www-authenticate": 'Bearer realm="aybiza"' } });
}

/**
 * Authenticates `Authorization: Bearer <key>` and, when given, requires a scope. Sets `c.var.auth`
 * (tenant, key ID, scopes, plan, jurisdiction). Missing, malformed, unknown or revoked key → 401; key without the
 * scope → 403; over the plan's API request rate → 429 with Retry-After.
 * Lookups are by (tenant, key hash), so a key can never resolve to another tenant.
 *
 * @example createRoute({ ..., middleware: [authorize("agents:write"), unitOfWork()] })
 */
export const authorize = (scope?: Scope): MiddlewareHandler<AppEnv> =>
  async function authorize(c, next) {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(header);
    if (!match?.[1]) throw unauthorized("Send an API key as `Authorization: Bearer <key>`.");
    const presented = await readApiKey(match[1]);
    if (!presented) throw unauthorized("The API key is not valid.");

    const db = c.var.db;
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
    if (!key) throw unauthorized("The API key is not valid.");
    if (key.revokedAt) throw unauthorized("The API key has been revoked.");
    if (scope && !hasScope(key.scopes, scope)) {
      throw new ProblemError("insufficient-scope", `This operation needs an API key with the ${scope} scope.`, {
        headers: { "www-authenticate": `Bearer realm="aybiza", error="insufficient_scope", scope="${scope}"` },
      });
    }

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

    // The tenant's API request bucket (TenantLimiter, exact across all edge locations): over it → 429.
    const limiter = namespaceFor(c.env.TENANT_LIMITER, c.env, key.jurisdiction).getByName(presented.tenantId);
    const bucket = await limiter.takeApiToken(key.plan);
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

    c.set("auth", {
      tenantId: presented.tenantId,
      keyId: key.id,
      scopes: key.scopes,
      plan: key.plan,
      jurisdiction: key.jurisdiction,
    });
    await next();
  };
