// Publishable keys (`pk_<account ID>_<32 hex>`): what a tenant puts in its own web page to let visitors talk to
// one agent. Public by design, so a key can do exactly one thing (start a web call with its agent's published
// version) and only from the origins it lists; the browser's Origin header is what is checked, which a page on
// another site cannot forge. Everything else about the call (limits, lease, audit) is a normal web call.
import { and, eq } from "drizzle-orm";
import type { Context, MiddlewareHandler } from "hono";
import { accounts, publishableKeys } from "../../db/schema.ts";
import type { AppEnv } from "../../env.ts";
import { randomHex } from "../../lib/crypto.ts";
import { type AccountId, isAccountId } from "../../lib/ids.ts";
import { ProblemError } from "../../lib/problem.ts";
import { authorize } from "../../middleware/auth.ts";
import { useHomeDatabase } from "../../middleware/database.ts";
import { allDatabases, namespaceFor } from "../../residency/residency.ts";

const PK_PATTERN = /^pk_(AYB-[A-Z0-9-]+)_([0-9a-f]{32})$/;

export function mintPublishableKey(tenantId: AccountId): string {
  return `pk_${tenantId}_${randomHex(16)}`;
}

/** Set by webCallAuth() when a publishable key (not an API key or session) started the request. */
export type PublishableGrant = { keyId: string; agentId: string; origin: string };
const grants = new WeakMap<Request, PublishableGrant>();
export function publishableGrant(c: Context<AppEnv>): PublishableGrant | undefined {
  return grants.get(c.req.raw);
}

/**
 * `Authorization: Bearer pk_…` from an allowed Origin, or else exactly what authorize("calls:write") accepts.
 * Answers CORS for allowed origins, so a tenant's page can call POST /v1/web-calls directly.
 */
export const webCallAuth = (): MiddlewareHandler<AppEnv> =>
  async function webCallAuth(c, next) {
    const m = /^Bearer[ ]+(pk_\S+)[ ]*$/i.exec(c.req.header("authorization") ?? "");
    if (!m?.[1]) return authorize("calls:write")(c, next);
    // Refusals carry CORS headers too, so the page can read why (a bare CORS failure says nothing).
    const origin = c.req.header("origin");
    const headers: Record<string, string> = origin ? { "access-control-allow-origin": origin, vary: "origin" } : {};
    const presented = PK_PATTERN.exec(m[1]);
    const tenantId = presented?.[1];
    if (!presented || !tenantId || !isAccountId(tenantId)) {
      throw new ProblemError("unauthorized", "The publishable key is not valid.", { headers });
    }
    const rows = await Promise.all(
      allDatabases(c.env).map(async ({ url }) => {
        const [row] = await c.var.databases
          .byUrl(url)
          .select({ key: publishableKeys, plan: accounts.plan, jurisdiction: accounts.jurisdiction })
          .from(publishableKeys)
          .innerJoin(accounts, eq(accounts.id, publishableKeys.tenantId))
          .where(and(eq(publishableKeys.tenantId, tenantId), eq(publishableKeys.key, m[1] ?? "")))
          .limit(1);
        return row;
      }),
    );
    const found = rows.find((r) => r !== undefined);
    if (!found || found.key.revokedAt) {
      throw new ProblemError("unauthorized", "The publishable key is not valid.", { headers });
    }
    if (!origin || !found.key.allowedOrigins.includes(origin)) {
      throw new ProblemError(
        "insufficient-scope",
        `This publishable key does not allow calls from ${origin ?? "a page without an origin"}.`,
        { headers },
      );
    }
    useHomeDatabase(c, found.jurisdiction);
    const bucket = await namespaceFor(c.env.TENANT_LIMITER, c.env, found.jurisdiction)
      .getByName(tenantId)
      .takeApiToken(found.plan);
    if (!bucket.ok) {
      throw new ProblemError("rate-limited", "Too many requests for this account; retry later.", {
        headers: { ...headers, "retry-after": String(Math.max(1, Math.ceil(bucket.retryAfterMs / 1000))) },
      });
    }
    c.set("auth", {
      tenantId,
      keyId: found.key.id,
      userId: null,
      role: null,
      scopes: ["calls:write"],
      plan: found.plan,
      jurisdiction: found.jurisdiction,
    });
    grants.set(c.req.raw, { keyId: found.key.id, agentId: found.key.agentId, origin });
    await next();
    c.header("access-control-allow-origin", origin);
    c.header("vary", "origin");
  };

/** The preflight of a cross-origin POST /v1/web-calls; the real request is where the origin is checked. */
export function webCallPreflight(c: Context<AppEnv>): Response {
  return new Response(null, {
    status: 204,
    headers: {
      "access-control-allow-origin": c.req.header("origin") ?? "*",
      "access-control-allow-methods": "POST",
      "access-control-allow-headers": "authorization, content-type",
      "access-control-max-age": "600",
      vary: "origin",
    },
  });
}
