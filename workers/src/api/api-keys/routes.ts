// API keys: create (the secret is shown once), list, get, revoke. All need keys:admin.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, desc, eq } from "drizzle-orm";
import { apiKeys } from "../../db/schema.ts";
import type { Db } from "../../db/types.ts";
import type { AppEnv } from "../../env.ts";
import { mintApiKey } from "../../lib/api-key.ts";
import { audit } from "../../lib/audit.ts";
import { newResourceId, pathParam, resourceId } from "../../lib/ids.ts";
import { afterCursor, pageOf, pageQuery, toPage } from "../../lib/pagination.ts";
import { notFound, ProblemError, problems } from "../../lib/problem.ts";
import { canGrant } from "../../lib/scopes.ts";
import { authorize } from "../../middleware/auth.ts";
import { unitOfWork } from "../../middleware/unit-of-work.ts";
import { jsonBody, jsonResponse, needs } from "../common.ts";
import { ApiKeySchema, apiKeyOut, NewApiKeySchema, ScopeSchema } from "./schemas.ts";

const KeyParams = z.object({ apiKeyId: pathParam("apiKeyId", resourceId("key")) });

const ApiKeyCreateSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200).openapi({ example: "CRM sync" }),
    scopes: z
      .array(ScopeSchema)
      .min(1)
      .max(20)
      .openapi({ description: "A key can only grant scopes the creating key holds itself." }),
  })
  .openapi("ApiKeyCreate");

const createKey = createRoute({
  method: "post",
  path: "/api-keys",
  tags: ["API keys"],
  summary: "Create an API key",
  description: "The response holds the secret key; it is never shown again.",
  security: needs("keys:admin"),
  middleware: [authorize("keys:admin"), unitOfWork()] as const,
  request: { body: jsonBody(ApiKeyCreateSchema) },
  responses: { 201: jsonResponse(NewApiKeySchema, "Created"), ...problems(400, 401, 403, 413, 415, 422) },
});

const listKeys = createRoute({
  method: "get",
  path: "/api-keys",
  tags: ["API keys"],
  summary: "List API keys (revoked ones included)",
  security: needs("keys:admin"),
  middleware: [authorize("keys:admin")] as const,
  request: { query: z.strictObject(pageQuery) },
  responses: { 200: jsonResponse(pageOf(ApiKeySchema, "ApiKeyPage"), "A page of keys"), ...problems(400, 401, 403) },
});

const getKey = createRoute({
  method: "get",
  path: "/api-keys/{apiKeyId}",
  tags: ["API keys"],
  summary: "Get an API key",
  security: needs("keys:admin"),
  middleware: [authorize("keys:admin")] as const,
  request: { params: KeyParams },
  responses: { 200: jsonResponse(ApiKeySchema, "The key"), ...problems(400, 401, 403, 404) },
});

const revokeKey = createRoute({
  method: "post",
  path: "/api-keys/{apiKeyId}/revoke",
  tags: ["API keys"],
  summary: "Revoke an API key",
  description: "Takes effect on the next request made with it. Revoking a revoked key changes nothing.",
  security: needs("keys:admin"),
  middleware: [authorize("keys:admin"), unitOfWork()] as const,
  request: { params: KeyParams },
  responses: { 200: jsonResponse(ApiKeySchema, "The revoked key"), ...problems(400, 401, 403, 404) },
});

async function loadKey(db: Db, tenantId: string, id: string) {
  const [row] = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.tenantId, tenantId), eq(apiKeys.id, id)));
  if (!row) throw notFound("API key", id);
  return row;
}

export const apiKeysApi = new OpenAPIHono<AppEnv>()
  .openapi(createKey, async (c) => {
    const body = c.req.valid("json");
    const { tenantId, keyId, userId, scopes } = c.var.auth;
    const requested = [...new Set(body.scopes)];
    if (!canGrant(scopes, requested)) {
      throw new ProblemError("insufficient-scope", "A key can only grant scopes that the key creating it holds.");
    }
    const minted = await mintApiKey(tenantId);
    const id = newResourceId("key");
    const [row] = await c.var.db
      .insert(apiKeys)
      .values({
        tenantId,
        id,
        name: body.name,
        prefix: minted.prefix,
        keyHash: minted.hash,
        scopes: requested,
        createdByKeyId: keyId,
        createdByUserId: userId,
      })
      .returning();
    if (!row) throw new Error("insert returned no row");
    await audit(c, { action: "api_key.create", targetType: "api_key", targetId: id });
    return c.json({ ...apiKeyOut(row), key: minted.key }, 201);
  })
  .openapi(listKeys, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const rows = await c.var.db
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.tenantId, c.var.auth.tenantId), afterCursor(cursor, apiKeys.createdAt, apiKeys.id)))
      .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id))
      .limit(limit + 1);
    return c.json(toPage(rows, limit, apiKeyOut), 200);
  })
  .openapi(getKey, async (c) => {
    const { apiKeyId } = c.req.valid("param");
    return c.json(apiKeyOut(await loadKey(c.var.db, c.var.auth.tenantId, apiKeyId)), 200);
  })
  .openapi(revokeKey, async (c) => {
    const { apiKeyId } = c.req.valid("param");
    const { tenantId } = c.var.auth;
    const existing = await loadKey(c.var.db, tenantId, apiKeyId);
    if (existing.revokedAt) return c.json(apiKeyOut(existing), 200);
    const [row] = await c.var.db
      .update(apiKeys)
      .set({ revokedAt: new Date() })
      .where(and(eq(apiKeys.tenantId, tenantId), eq(apiKeys.id, apiKeyId)))
      .returning();
    if (!row) throw notFound("API key", apiKeyId);
    await audit(c, { action: "api_key.revoke", targetType: "api_key", targetId: apiKeyId });
    return c.json(apiKeyOut(row), 200);
  });
