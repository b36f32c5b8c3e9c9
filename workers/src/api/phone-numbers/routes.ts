// Phone numbers the tenant brings from its carrier, and which agent answers each.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, desc, eq, isNull } from "drizzle-orm";
import { agents, phoneNumberRoutes, phoneNumbers, TELEPHONY_PROVIDERS } from "../../db/schema.ts";
import type { Db } from "../../db/types.ts";
import type { AppEnv } from "../../env.ts";
import { audit } from "../../lib/audit.ts";
import { newResourceId, pathParam, resourceId } from "../../lib/ids.ts";
import { afterCursor, pageOf, pageQuery, toPage } from "../../lib/pagination.ts";
import { notFound, ProblemError, problems } from "../../lib/problem.ts";
import { E164, iso, Timestamp } from "../../lib/schemas.ts";
import { authorize } from "../../middleware/auth.ts";
import { refreshNumberRoutes } from "../../middleware/number-route-refresh.ts";
import { unitOfWork } from "../../middleware/unit-of-work.ts";
import { withEveryDatabase } from "../../residency/databases.ts";
import { jsonBody, jsonResponse, needs } from "../common.ts";

const PhoneNumberSchema = z
  .object({
    id: resourceId("num"),
    e164: E164,
    provider: z.enum(TELEPHONY_PROVIDERS),
    agentId: resourceId("agt").nullable().openapi({ description: "The agent that answers; null = none." }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("PhoneNumber");
type PhoneNumberOut = z.infer<typeof PhoneNumberSchema>;

const PhoneNumberCreateSchema = z
  .strictObject({
    e164: E164,
    provider: z.enum(TELEPHONY_PROVIDERS),
    agentId: resourceId("agt").nullable().optional(),
  })
  .openapi("PhoneNumberCreate");

const PhoneNumberUpdateSchema = z
  .strictObject({
    agentId: resourceId("agt").nullable().openapi({ description: "Attach this agent; null detaches." }),
  })
  .openapi("PhoneNumberUpdate");

const NumberParams = z.object({ phoneNumberId: pathParam("phoneNumberId", resourceId("num")) });

const createNumber = createRoute({
  method: "post",
  path: "/phone-numbers",
  tags: ["Phone numbers"],
  summary: "Add a phone number",
  description: "A number belongs to one account at most (409 if another account has it).",
  security: needs("numbers:write"),
  middleware: [authorize("numbers:write"), refreshNumberRoutes(), unitOfWork()] as const,
  request: { body: jsonBody(PhoneNumberCreateSchema) },
  responses: { 201: jsonResponse(PhoneNumberSchema, "Created"), ...problems(400, 401, 403, 404, 409, 413, 415, 422) },
});

const listNumbers = createRoute({
  method: "get",
  path: "/phone-numbers",
  tags: ["Phone numbers"],
  summary: "List phone numbers",
  security: needs("numbers:read"),
  middleware: [authorize("numbers:read")] as const,
  request: {
    query: z.strictObject({
      ...pageQuery,
      agentId: resourceId("agt")
        .optional()
        .openapi({ param: { name: "agentId", in: "query" }, description: "Only numbers answered by this agent." }),
    }),
  },
  responses: {
    200: jsonResponse(pageOf(PhoneNumberSchema, "PhoneNumberPage"), "A page of numbers"),
    ...problems(400, 401, 403),
  },
});

const getNumber = createRoute({
  method: "get",
  path: "/phone-numbers/{phoneNumberId}",
  tags: ["Phone numbers"],
  summary: "Get a phone number",
  security: needs("numbers:read"),
  middleware: [authorize("numbers:read")] as const,
  request: { params: NumberParams },
  responses: { 200: jsonResponse(PhoneNumberSchema, "The number"), ...problems(400, 401, 403, 404) },
});

const updateNumber = createRoute({
  method: "patch",
  path: "/phone-numbers/{phoneNumberId}",
  tags: ["Phone numbers"],
  summary: "Attach an agent to a number (or detach it)",
  security: needs("numbers:write"),
  middleware: [authorize("numbers:write"), refreshNumberRoutes(), unitOfWork()] as const,
  request: { params: NumberParams, body: jsonBody(PhoneNumberUpdateSchema) },
  responses: { 200: jsonResponse(PhoneNumberSchema, "The number"), ...problems(400, 401, 403, 404, 413, 415) },
});

const deleteNumber = createRoute({
  method: "delete",
  path: "/phone-numbers/{phoneNumberId}",
  tags: ["Phone numbers"],
  summary: "Remove a phone number",
  security: needs("numbers:write"),
  middleware: [authorize("numbers:write"), refreshNumberRoutes(), unitOfWork()] as const,
  request: { params: NumberParams },
  responses: { 204: { description: "Removed" }, ...problems(400, 401, 403, 404) },
});

function numberOut(row: typeof phoneNumbers.$inferSelect): PhoneNumberOut {
  return {
    id: row.id as PhoneNumberOut["id"],
    e164: row.e164,
    provider: row.provider,
    agentId: row.agentId as PhoneNumberOut["agentId"],
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

async function loadNumber(db: Db, tenantId: string, id: string) {
  const [row] = await db
    .select()
    .from(phoneNumbers)
    .where(and(eq(phoneNumbers.tenantId, tenantId), eq(phoneNumbers.id, id)));
  if (!row) throw notFound("phone number", id);
  return row;
}

/** The agent must be this tenant's and not deleted; anything else is the same 404 as a missing one. */
async function assertAgent(db: Db, tenantId: string, agentId: string): Promise<void> {
  const [row] = await db
    .select({ id: agents.id })
    .from(agents)
    .where(and(eq(agents.tenantId, tenantId), eq(agents.id, agentId), isNull(agents.deletedAt)));
  if (!row) throw notFound("agent", agentId);
}

export const phoneNumbersApi = new OpenAPIHono<AppEnv>()
  .openapi(createNumber, async (c) => {
    const body = c.req.valid("json");
    const { tenantId } = c.var.auth;
    const db = c.var.db;
    const agentId = body.agentId ?? null;
    if (agentId) await assertAgent(db, tenantId, agentId);
    // One number rings one tenant. Each jurisdiction's database keeps its own routing table, so a number already
    // routed in another one is refused here (inbound routing asks every database and would find two owners).
    const elsewhere = await withEveryDatabase(c.env, db, async (dbs) => {
      for (const other of dbs) {
        if (other === db) continue;
        const [row] = await other
          .select({ e164: phoneNumberRoutes.e164 })
          .from(phoneNumberRoutes)
          .where(eq(phoneNumberRoutes.e164, body.e164))
          .limit(1);
        if (row) return true;
      }
      return false;
    });
    if (elsewhere) throw new ProblemError("conflict", `${body.e164} is already registered.`);
    const id = newResourceId("num");
    const claimed = await db
      .insert(phoneNumberRoutes)
      .values({ e164: body.e164, tenantId, phoneNumberId: id })
      .onConflictDoNothing()
      .returning({ e164: phoneNumberRoutes.e164 });
    if (claimed.length === 0) throw new ProblemError("conflict", `${body.e164} is already registered.`);
    const [row] = await db
      .insert(phoneNumbers)
      .values({ tenantId, id, e164: body.e164, provider: body.provider, agentId })
      .returning();
    if (!row) throw new Error("insert returned no row");
    await audit(c, { action: "phone_number.create", targetType: "phone_number", targetId: id, afterId: agentId });
    return c.json(numberOut(row), 201);
  })
  .openapi(listNumbers, async (c) => {
    const { limit, cursor, agentId } = c.req.valid("query");
    const { tenantId } = c.var.auth;
    const rows = await c.var.db
      .select()
      .from(phoneNumbers)
      .where(
        and(
          eq(phoneNumbers.tenantId, tenantId),
          agentId ? eq(phoneNumbers.agentId, agentId) : undefined,
          afterCursor(cursor, phoneNumbers.createdAt, phoneNumbers.id),
        ),
      )
      .orderBy(desc(phoneNumbers.createdAt), desc(phoneNumbers.id))
      .limit(limit + 1);
    return c.json(toPage(rows, limit, numberOut), 200);
  })
  .openapi(getNumber, async (c) => {
    const { phoneNumberId } = c.req.valid("param");
    return c.json(numberOut(await loadNumber(c.var.db, c.var.auth.tenantId, phoneNumberId)), 200);
  })
  .openapi(updateNumber, async (c) => {
    const { phoneNumberId } = c.req.valid("param");
    const { agentId } = c.req.valid("json");
    const { tenantId } = c.var.auth;
    const db = c.var.db;
    const before = await loadNumber(db, tenantId, phoneNumberId);
    if (agentId) await assertAgent(db, tenantId, agentId);
    const [row] = await db
      .update(phoneNumbers)
      .set({ agentId, updatedAt: new Date() })
      .where(and(eq(phoneNumbers.tenantId, tenantId), eq(phoneNumbers.id, phoneNumberId)))
      .returning();
    if (!row) throw notFound("phone number", phoneNumberId);
    await audit(c, {
      action: agentId ? "phone_number.attach" : "phone_number.detach",
      targetType: "phone_number",
      targetId: phoneNumberId,
      beforeId: before.agentId,
      afterId: agentId,
    });
    return c.json(numberOut(row), 200);
  })
  .openapi(deleteNumber, async (c) => {
    const { phoneNumberId } = c.req.valid("param");
    const { tenantId } = c.var.auth;
    const db = c.var.db;
    const row = await loadNumber(db, tenantId, phoneNumberId);
    await db
      .delete(phoneNumberRoutes)
      .where(and(eq(phoneNumberRoutes.e164, row.e164), eq(phoneNumberRoutes.tenantId, tenantId)));
    await db.delete(phoneNumbers).where(and(eq(phoneNumbers.tenantId, tenantId), eq(phoneNumbers.id, phoneNumberId)));
    await audit(c, { action: "phone_number.delete", targetType: "phone_number", targetId: phoneNumberId });
    return c.body(null, 204);
  });
