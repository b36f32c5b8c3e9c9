// Browser calls (POST /v1/web-calls) and the publishable keys that let a tenant's own site start them.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, desc, eq, isNull } from "drizzle-orm";
import { agents, agentVersions, publishableKeys } from "../../db/schema.ts";
import type { AppEnv } from "../../env.ts";
import { audit } from "../../lib/audit.ts";
import { newResourceId, pathParam, resourceId } from "../../lib/ids.ts";
import { notFound, ProblemError, problems } from "../../lib/problem.ts";
import { iso, Timestamp } from "../../lib/schemas.ts";
import { authorize } from "../../middleware/auth.ts";
import { unitOfWork } from "../../middleware/unit-of-work.ts";
import { compileVersion } from "../../prefix/runtime-config.ts";
import { storePromptPrefix } from "../../prefix/store.ts";
import type { EdgeLocation } from "../../routing/nearness.ts";
import { startWebCall } from "../../web-calls/start-web-call.ts";
import { jsonBody, jsonResponse, needs } from "../common.ts";
import { mintPublishableKey, publishableGrant, webCallAuth } from "./publishable-key-auth.ts";

const WebCallCreate = z
  .strictObject({
    agentId: resourceId("agt"),
    version: z.number().int().positive().optional().openapi({
      description: "A version to try (drafts too); default the published one. Not with a publishable key.",
    }),
  })
  .openapi("WebCallCreate");

const WebCallOut = z
  .object({
    callId: resourceId("call"),
    url: z.string().openapi({ description: "The media node's WebSocket URL (`…/v1/web`)." }),
    token: z.string().openapi({ description: 'Send once as `{"type":"start","token":…}`; valid 60 s, single use.' }),
    expiresAt: Timestamp,
    region: z.string(),
    agentId: z.string(),
    agentVersion: z.number().int(),
  })
  .openapi("WebCall");

const createWebCall = createRoute({
  method: "post",
  path: "/web-calls",
  tags: ["Calls"],
  summary: "Start a browser call",
  description:
    "Admits the call like a phone call (concurrent-call lease, call-start rate, nearest healthy region inside the " +
    "account's jurisdiction, a call record) and returns the media node's WebSocket URL and a single-use call token. " +
    "Authenticated by an API key with calls:write, a console session, or a publishable key from one of its origins.",
  security: needs("calls:write"),
  middleware: [webCallAuth(), unitOfWork()] as const,
  request: { body: jsonBody(WebCallCreate) },
  responses: { 201: jsonResponse(WebCallOut, "Connect to `url` now"), ...problems(400, 401, 403, 404, 409, 503) },
});

const PublishableKeyOut = z
  .object({
    id: resourceId("pbk"),
    key: z.string().openapi({ description: "Public: put it in your page. It can only start calls with agentId." }),
    agentId: z.string(),
    allowedOrigins: z.array(z.string()),
    revokedAt: Timestamp.nullable(),
    createdAt: Timestamp,
  })
  .openapi("PublishableKey");

const Origin = z
  .string()
  .max(300)
  .regex(/^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$/i, "an origin such as https://www.example.com (no path)");

const createPk = createRoute({
  method: "post",
  path: "/publishable-keys",
  tags: ["API keys"],
  summary: "Create a publishable key for browser calls from your site",
  security: needs("keys:admin"),
  middleware: [authorize("keys:admin"), unitOfWork()] as const,
  request: {
    body: jsonBody(z.strictObject({ agentId: resourceId("agt"), allowedOrigins: z.array(Origin).min(1).max(20) })),
  },
  responses: { 201: jsonResponse(PublishableKeyOut, "Created"), ...problems(400, 401, 403, 404) },
});

const listPk = createRoute({
  method: "get",
  path: "/publishable-keys",
  tags: ["API keys"],
  summary: "List publishable keys",
  security: needs("keys:admin"),
  middleware: [authorize("keys:admin")] as const,
  responses: { 200: jsonResponse(z.object({ data: z.array(PublishableKeyOut) }), "The keys"), ...problems(401, 403) },
});

const revokePk = createRoute({
  method: "post",
  path: "/publishable-keys/{publishableKeyId}/revoke",
  tags: ["API keys"],
  summary: "Revoke a publishable key",
  security: needs("keys:admin"),
  middleware: [authorize("keys:admin"), unitOfWork()] as const,
  request: { params: z.object({ publishableKeyId: pathParam("publishableKeyId", resourceId("pbk")) }) },
  responses: { 200: jsonResponse(PublishableKeyOut, "Revoked"), ...problems(400, 401, 403, 404) },
});

function pkOut(row: typeof publishableKeys.$inferSelect): z.infer<typeof PublishableKeyOut> {
  return {
    id: row.id as z.infer<typeof PublishableKeyOut>["id"],
    key: row.key,
    agentId: row.agentId,
    allowedOrigins: row.allowedOrigins,
    revokedAt: row.revokedAt ? iso(row.revokedAt) : null,
    createdAt: iso(row.createdAt),
  };
}

export const webCallsApi = new OpenAPIHono<AppEnv>()
  .openapi(createWebCall, async (c) => {
    const body = c.req.valid("json");
    const { tenantId, plan, jurisdiction, userId, keyId } = c.var.auth;
    const grant = publishableGrant(c);
    if (grant && grant.agentId !== body.agentId) throw notFound("agent", body.agentId);
    if (grant && body.version !== undefined) {
      throw new ProblemError("validation-error", "A publishable key calls the published version only.", {
        errors: [{ location: "body", pointer: "/version", detail: "not allowed with a publishable key" }],
      });
    }
    const [agent] = await c.var.db
      .select({ publishedVersionId: agents.publishedVersionId })
      .from(agents)
      .where(and(eq(agents.tenantId, tenantId), eq(agents.id, body.agentId), isNull(agents.deletedAt)))
      .limit(1);
    if (!agent) throw notFound("agent", body.agentId);
    const [version] = await c.var.db
      .select()
      .from(agentVersions)
      .where(
        and(
          eq(agentVersions.tenantId, tenantId),
          eq(agentVersions.agentId, body.agentId),
          body.version !== undefined
            ? eq(agentVersions.version, body.version)
            : eq(agentVersions.id, agent.publishedVersionId ?? ""),
        ),
      )
      .limit(1);
    if (!version) {
      if (body.version !== undefined) throw notFound("agent version", `${body.agentId} v${body.version}`);
      throw new ProblemError(
        "conflict",
        `Agent ${body.agentId} has no published version; publish one or name a version.`,
      );
    }
    // A draft's prefix is not stored at publish time; the media node reads it by hash, so store it now.
    await storePromptPrefix(c.var.db, tenantId, (await compileVersion(version)).prefix);

    const via = grant ? `site:${grant.origin}` : userId ? `console:${userId}` : `api:${keyId}`;
    const cf = (c.req.raw as { cf?: EdgeLocation }).cf;
    const result = await startWebCall(c.env, { tenantId, jurisdiction, plan, version, cf, via });
    if (!result.ok) {
      if (result.reason === "no-capacity") throw new ProblemError("service-unavailable", result.detail);
      throw new ProblemError("over-limit", result.detail, {
        headers:
          result.retryAfterMs !== undefined ? { "retry-after": String(Math.ceil(result.retryAfterMs / 1000)) } : {},
      });
    }
    await audit(c, { action: "call.create", targetType: "call", targetId: result.callId, afterId: version.id });
    return c.json(
      {
        callId: result.callId as z.infer<typeof WebCallOut>["callId"],
        url: result.url,
        token: result.token,
        expiresAt: new Date(result.expiresAt).toISOString(),
        region: result.region,
        agentId: version.agentId,
        agentVersion: version.version,
      },
      201,
    );
  })
  .openapi(createPk, async (c) => {
    const body = c.req.valid("json");
    const { tenantId } = c.var.auth;
    const [agent] = await c.var.db
      .select({ id: agents.id })
      .from(agents)
      .where(and(eq(agents.tenantId, tenantId), eq(agents.id, body.agentId), isNull(agents.deletedAt)));
    if (!agent) throw notFound("agent", body.agentId);
    const [row] = await c.var.db
      .insert(publishableKeys)
      .values({
        tenantId,
        id: newResourceId("pbk"),
        key: mintPublishableKey(tenantId),
        agentId: body.agentId,
        allowedOrigins: [...new Set(body.allowedOrigins.map((o) => o.toLowerCase()))],
      })
      .returning();
    if (!row) throw new Error("insert returned no row");
    await audit(c, { action: "publishable_key.create", targetType: "publishable_key", targetId: row.id });
    return c.json(pkOut(row), 201);
  })
  .openapi(listPk, async (c) => {
    const rows = await c.var.db
      .select()
      .from(publishableKeys)
      .where(eq(publishableKeys.tenantId, c.var.auth.tenantId))
      .orderBy(desc(publishableKeys.createdAt));
    return c.json({ data: rows.map(pkOut) }, 200);
  })
  .openapi(revokePk, async (c) => {
    const { publishableKeyId: id } = c.req.valid("param");
    const { tenantId } = c.var.auth;
    const [row] = await c.var.db
      .update(publishableKeys)
      .set({ revokedAt: new Date() })
      .where(and(eq(publishableKeys.tenantId, tenantId), eq(publishableKeys.id, id)))
      .returning();
    if (!row) throw notFound("publishable key", id);
    await audit(c, { action: "publishable_key.revoke", targetType: "publishable_key", targetId: id });
    return c.json(pkOut(row), 200);
  });
