// Event webhook endpoints: create (the signing secret is shown once), list, get, update, delete, rotate the secret,
// list deliveries with every attempt, resend a delivery. Scopes webhooks:read / webhooks:write.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import { tenantSecrets, webhookAttempts, webhookDeliveries, webhookEndpoints } from "../../db/schema.ts";
import type { Db } from "../../db/types.ts";
import type { AppEnv } from "../../env.ts";
import { queueDeliveries } from "../../events/consumer.ts";
import { audit } from "../../lib/audit.ts";
import { newResourceId, pathParam, resourceId } from "../../lib/ids.ts";
import { afterCursor, pageOf, pageQuery, toPage } from "../../lib/pagination.ts";
import { notFound, ProblemError, problems } from "../../lib/problem.ts";
import { authorize } from "../../middleware/auth.ts";
import { afterCommit, unitOfWork } from "../../middleware/unit-of-work.ts";
import { requestVault } from "../../secrets/request.ts";
import { deleteSecret, displayPrefix, generateSecret, storeSecret } from "../../secrets/vault.ts";
import { jsonBody, jsonResponse, needs } from "../common.ts";
import {
  DeliverySchema,
  deliveryOut,
  EndpointCreateSchema,
  EndpointSchema,
  EndpointUpdateSchema,
  EndpointWithSecretSchema,
  endpointOut,
} from "./schemas.ts";

/** How long a rotated-out secret keeps signing beside the new one, so receivers can switch without losing events. */
const ROTATION_OVERLAP_MS = 24 * 3_600_000;

const EndpointParams = z.object({ endpointId: pathParam("endpointId", resourceId("we")) });
const DeliveryParams = EndpointParams.extend({ deliveryId: pathParam("deliveryId", resourceId("dlv")) });
const TAGS = ["Webhook endpoints"];

const create = createRoute({
  method: "post",
  path: "/webhook-endpoints",
  tags: TAGS,
  summary: "Create a webhook endpoint",
  description:
    "Events are POSTed to `url`, signed per Standard Webhooks. The response holds the signing secret; it is never shown again.",
  security: needs("webhooks:write"),
  middleware: [authorize("webhooks:write"), unitOfWork({ redact: ["secret"] })] as const,
  request: { body: jsonBody(EndpointCreateSchema) },
  responses: { 201: jsonResponse(EndpointWithSecretSchema, "Created"), ...problems(400, 401, 403, 413, 415, 422, 503) },
});

const list = createRoute({
  method: "get",
  path: "/webhook-endpoints",
  tags: TAGS,
  summary: "List webhook endpoints",
  security: needs("webhooks:read"),
  middleware: [authorize("webhooks:read")] as const,
  request: { query: z.strictObject(pageQuery) },
  responses: {
    200: jsonResponse(pageOf(EndpointSchema, "WebhookEndpointPage"), "A page of endpoints"),
    ...problems(400, 401, 403),
  },
});

const get = createRoute({
  method: "get",
  path: "/webhook-endpoints/{endpointId}",
  tags: TAGS,
  summary: "Get a webhook endpoint",
  description: "A disabled endpoint's `disabled` says when and why it was disabled.",
  security: needs("webhooks:read"),
  middleware: [authorize("webhooks:read")] as const,
  request: { params: EndpointParams },
  responses: { 200: jsonResponse(EndpointSchema, "The endpoint"), ...problems(400, 401, 403, 404) },
});

const update = createRoute({
  method: "patch",
  path: "/webhook-endpoints/{endpointId}",
  tags: TAGS,
  summary: "Update a webhook endpoint",
  description: "Fields left out keep their values. `enabled: true` re-enables an endpoint disabled for failing.",
  security: needs("webhooks:write"),
  middleware: [authorize("webhooks:write"), unitOfWork()] as const,
  request: { params: EndpointParams, body: jsonBody(EndpointUpdateSchema) },
  responses: { 200: jsonResponse(EndpointSchema, "The endpoint"), ...problems(400, 401, 403, 404, 413, 415) },
});

const remove = createRoute({
  method: "delete",
  path: "/webhook-endpoints/{endpointId}",
  tags: TAGS,
  summary: "Delete a webhook endpoint",
  description: "Its deliveries and secrets are deleted with it; pending deliveries are not attempted.",
  security: needs("webhooks:write"),
  middleware: [authorize("webhooks:write"), unitOfWork()] as const,
  request: { params: EndpointParams },
  responses: { 204: { description: "Deleted" }, ...problems(400, 401, 403, 404) },
});

const rotate = createRoute({
  method: "post",
  path: "/webhook-endpoints/{endpointId}/rotate-secret",
  tags: TAGS,
  summary: "Rotate an endpoint's signing secret",
  description:
    "Returns the new secret, once. For 24 hours both secrets sign every request (two `v1,` signatures), so you can switch without missing an event.",
  security: needs("webhooks:write"),
  middleware: [authorize("webhooks:write"), unitOfWork({ redact: ["secret"] })] as const,
  request: { params: EndpointParams },
  responses: {
    200: jsonResponse(EndpointWithSecretSchema, "The endpoint and its new secret"),
    ...problems(400, 401, 403, 404, 503),
  },
});

const deliveries = createRoute({
  method: "get",
  path: "/webhook-endpoints/{endpointId}/deliveries",
  tags: TAGS,
  summary: "List an endpoint's deliveries with every attempt",
  security: needs("webhooks:read"),
  middleware: [authorize("webhooks:read")] as const,
  request: {
    params: EndpointParams,
    query: z.strictObject({ ...pageQuery, status: z.enum(["pending", "succeeded", "failed"]).optional() }),
  },
  responses: {
    200: jsonResponse(pageOf(DeliverySchema, "WebhookDeliveryPage"), "A page of deliveries, newest first"),
    ...problems(400, 401, 403, 404),
  },
});

const resend = createRoute({
  method: "post",
  path: "/webhook-endpoints/{endpointId}/deliveries/{deliveryId}/resend",
  tags: TAGS,
  summary: "Resend a delivery",
  description: "Sends the same event (same `webhook-id`) again with a fresh retry schedule; its attempts are kept.",
  security: needs("webhooks:write"),
  middleware: [authorize("webhooks:write"), unitOfWork()] as const,
  request: { params: DeliveryParams },
  responses: { 202: jsonResponse(DeliverySchema, "Queued"), ...problems(400, 401, 403, 404, 409) },
});

async function loadEndpoint(db: Db, tenantId: string, id: string) {
  const [row] = await db
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.tenantId, tenantId), eq(webhookEndpoints.id, id)));
  if (!row) throw notFound("webhook endpoint", id);
  return row;
}

async function prefixes(db: Db, tenantId: string, secretIds: string[]): Promise<Map<string, string>> {
  if (secretIds.length === 0) return new Map();
  const rows = await db
    .select({ id: tenantSecrets.id, prefix: tenantSecrets.prefix })
    .from(tenantSecrets)
    .where(and(eq(tenantSecrets.tenantId, tenantId), inArray(tenantSecrets.id, secretIds)));
  return new Map(rows.map((r) => [r.id, r.prefix]));
}

async function withPrefix(db: Db, row: typeof webhookEndpoints.$inferSelect) {
  const map = await prefixes(db, row.tenantId, [row.secretId]);
  return endpointOut(row, map.get(row.secretId) ?? "");
}

export const webhookEndpointsApi = new OpenAPIHono<AppEnv>()
  .openapi(create, async (c) => {
    const body = c.req.valid("json");
    const { tenantId } = c.var.auth;
    const secret = generateSecret("webhook");
    const id = newResourceId("we");
    const stored = await storeSecret(requestVault(c), tenantId, {
      kind: "webhook_signing",
      name: `webhook endpoint ${id}`,
      value: secret,
      prefix: displayPrefix(secret),
    });
    const [row] = await c.var.db
      .insert(webhookEndpoints)
      .values({
        tenantId,
        id,
        url: body.url,
        description: body.description ?? null,
        events: [...new Set(body.events)],
        secretId: stored.id,
      })
      .returning();
    if (!row) throw new Error("insert returned no row");
    await audit(c, { action: "webhook_endpoint.create", targetType: "webhook_endpoint", targetId: id });
    return c.json({ ...endpointOut(row, stored.prefix), secret }, 201);
  })
  .openapi(list, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const { tenantId } = c.var.auth;
    const rows = await c.var.db
      .select()
      .from(webhookEndpoints)
      .where(
        and(
          eq(webhookEndpoints.tenantId, tenantId),
          afterCursor(cursor, webhookEndpoints.createdAt, webhookEndpoints.id),
        ),
      )
      .orderBy(desc(webhookEndpoints.createdAt), desc(webhookEndpoints.id))
      .limit(limit + 1);
    const map = await prefixes(
      c.var.db,
      tenantId,
      rows.map((r) => r.secretId),
    );
    return c.json(
      toPage(rows, limit, (r) => endpointOut(r, map.get(r.secretId) ?? "")),
      200,
    );
  })
  .openapi(get, async (c) => {
    const { endpointId } = c.req.valid("param");
    return c.json(await withPrefix(c.var.db, await loadEndpoint(c.var.db, c.var.auth.tenantId, endpointId)), 200);
  })
  .openapi(update, async (c) => {
    const { endpointId } = c.req.valid("param");
    const body = c.req.valid("json");
    const { tenantId } = c.var.auth;
    const existing = await loadEndpoint(c.var.db, tenantId, endpointId);
    const reEnabled = body.enabled === true && !existing.enabled;
    const [row] = await c.var.db
      .update(webhookEndpoints)
      .set({
        ...(body.url !== undefined ? { url: body.url } : {}),
        ...(body.events !== undefined ? { events: [...new Set(body.events)] } : {}),
        ...(body.description !== undefined ? { description: body.description } : {}),
        ...(body.enabled !== undefined ? { enabled: body.enabled } : {}),
        // Re-enabling clears the notice and starts the failure count afresh.
        ...(reEnabled ? { disabledAt: null, disabledReason: null, failingSince: null } : {}),
        updatedAt: sql`now()`,
      })
      .where(and(eq(webhookEndpoints.tenantId, tenantId), eq(webhookEndpoints.id, endpointId)))
      .returning();
    if (!row) throw notFound("webhook endpoint", endpointId);
    await audit(c, { action: "webhook_endpoint.update", targetType: "webhook_endpoint", targetId: endpointId });
    return c.json(await withPrefix(c.var.db, row), 200);
  })
  .openapi(remove, async (c) => {
    const { endpointId } = c.req.valid("param");
    const { tenantId } = c.var.auth;
    const existing = await loadEndpoint(c.var.db, tenantId, endpointId);
    await c.var.db
      .delete(webhookEndpoints)
      .where(and(eq(webhookEndpoints.tenantId, tenantId), eq(webhookEndpoints.id, endpointId)));
    for (const secretId of [existing.secretId, existing.previousSecretId]) {
      if (secretId) await deleteSecret(c.var.db, tenantId, secretId);
    }
    await audit(c, { action: "webhook_endpoint.delete", targetType: "webhook_endpoint", targetId: endpointId });
    return c.body(null, 204);
  })
  .openapi(rotate, async (c) => {
    const { endpointId } = c.req.valid("param");
    const { tenantId } = c.var.auth;
    const existing = await loadEndpoint(c.var.db, tenantId, endpointId);
    const secret = generateSecret("webhook");
    const stored = await storeSecret(requestVault(c), tenantId, {
      kind: "webhook_signing",
      name: `webhook endpoint ${endpointId}`,
      value: secret,
      prefix: displayPrefix(secret),
    });
    // The secret replaced now signs beside the new one for a day; the one before it is gone.
    if (existing.previousSecretId) await deleteSecret(c.var.db, tenantId, existing.previousSecretId);
    await c.var.db
      .update(tenantSecrets)
      .set({ expiresAt: new Date(Date.now() + ROTATION_OVERLAP_MS) })
      .where(and(eq(tenantSecrets.tenantId, tenantId), eq(tenantSecrets.id, existing.secretId)));
    const [row] = await c.var.db
      .update(webhookEndpoints)
      .set({ secretId: stored.id, previousSecretId: existing.secretId, updatedAt: sql`now()` })
      .where(and(eq(webhookEndpoints.tenantId, tenantId), eq(webhookEndpoints.id, endpointId)))
      .returning();
    if (!row) throw notFound("webhook endpoint", endpointId);
    await audit(c, { action: "webhook_endpoint.rotate_secret", targetType: "webhook_endpoint", targetId: endpointId });
    return c.json({ ...endpointOut(row, stored.prefix), secret }, 200);
  })
  .openapi(deliveries, async (c) => {
    const { endpointId } = c.req.valid("param");
    const { limit, cursor, status } = c.req.valid("query");
    const { tenantId } = c.var.auth;
    await loadEndpoint(c.var.db, tenantId, endpointId);
    const rows = await c.var.db
      .select()
      .from(webhookDeliveries)
      .where(
        and(
          eq(webhookDeliveries.tenantId, tenantId),
          eq(webhookDeliveries.endpointId, endpointId),
          status ? eq(webhookDeliveries.status, status) : undefined,
          afterCursor(cursor, webhookDeliveries.createdAt, webhookDeliveries.id),
        ),
      )
      .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
      .limit(limit + 1);
    const attempts = await attemptsOf(
      c.var.db,
      tenantId,
      rows.map((r) => r.id),
    );
    return c.json(
      toPage(rows, limit, (r) => deliveryOut(r, attempts.get(r.id) ?? [])),
      200,
    );
  })
  .openapi(resend, async (c) => {
    const { endpointId, deliveryId } = c.req.valid("param");
    const { tenantId, jurisdiction } = c.var.auth;
    const endpoint = await loadEndpoint(c.var.db, tenantId, endpointId);
    if (!endpoint.enabled) {
      throw new ProblemError("conflict", "The endpoint is disabled; re-enable it (PATCH enabled: true) first.");
    }
    const where = and(
      eq(webhookDeliveries.tenantId, tenantId),
      eq(webhookDeliveries.endpointId, endpointId),
      eq(webhookDeliveries.id, deliveryId),
    );
    const [current] = await c.var.db.select({ status: webhookDeliveries.status }).from(webhookDeliveries).where(where);
    if (!current) throw notFound("webhook delivery", deliveryId);
    // A pending delivery already has its retries scheduled; a second chain would only duplicate them.
    if (current.status === "pending") throw new ProblemError("conflict", "The delivery is still being attempted.");
    const [row] = await c.var.db
      .update(webhookDeliveries)
      .set({ status: "pending", failedAt: null, succeededAt: null, nextAttemptAt: sql`now()` })
      .where(where)
      .returning();
    if (!row) throw notFound("webhook delivery", deliveryId);
    await audit(c, { action: "webhook_delivery.resend", targetType: "webhook_delivery", targetId: deliveryId });
    afterCommit(c, () => queueDeliveries(c.env, tenantId, jurisdiction, [deliveryId]));
    const attempts = await attemptsOf(c.var.db, tenantId, [deliveryId]);
    return c.json(deliveryOut(row, attempts.get(deliveryId) ?? []), 202);
  });

async function attemptsOf(db: Db, tenantId: string, deliveryIds: string[]) {
  const out = new Map<string, (typeof webhookAttempts.$inferSelect)[]>();
  if (deliveryIds.length === 0) return out;
  const rows = await db
    .select()
    .from(webhookAttempts)
    .where(and(eq(webhookAttempts.tenantId, tenantId), inArray(webhookAttempts.deliveryId, deliveryIds)))
    .orderBy(asc(webhookAttempts.at), asc(webhookAttempts.attempt));
  for (const row of rows) out.set(row.deliveryId, [...(out.get(row.deliveryId) ?? []), row]);
  return out;
}
