// Consent records: proof that a person agreed to be called, kept per tenant, number and purpose. Records are
// never edited or deleted; revoking stamps revoked_at, so the history of what was allowed when stays intact.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, asc, desc, eq } from "drizzle-orm";
import type { Context } from "hono";
import {
  accounts,
  CONSENT_METHODS,
  CONSENT_STATUSES,
  CONSENT_TYPES,
  consentRecords,
  phoneNumbers,
} from "../../db/schema.ts";
import type { Db } from "../../db/types.ts";
import type { AppEnv } from "../../env.ts";
import { publishEvent } from "../../events/publish.ts";
import { audit } from "../../lib/audit.ts";
import { newResourceId, pathParam, resourceId } from "../../lib/ids.ts";
import { afterCursor, pageOf, pageQuery, toPage } from "../../lib/pagination.ts";
import { notFound, ProblemError, problems } from "../../lib/problem.ts";
import { E164, iso, isoOrNull, Timestamp } from "../../lib/schemas.ts";
import { authorize } from "../../middleware/auth.ts";
import { afterCommit, unitOfWork } from "../../middleware/unit-of-work.ts";
import { confirmationText } from "../../outbound/sms-consent.ts";
import { sendTwilioSms } from "../../telephony/twilio-rest.ts";
import { jsonBody, jsonResponse, needs } from "../common.ts";

const ConsentSchema = z
  .object({
    id: resourceId("cns"),
    phoneNumber: E164,
    type: z.enum(CONSENT_TYPES),
    status: z.enum(CONSENT_STATUSES).openapi({
      description: "SMS consent starts pending and becomes active when the person replies YES; STOP revokes.",
    }),
    verificationMethod: z.enum(CONSENT_METHODS),
    optedInAt: Timestamp.nullable(),
    expiresAt: Timestamp.nullable(),
    ipAddress: z.string().nullable(),
    userAgent: z.string().nullable(),
    revokedAt: Timestamp.nullable(),
    createdAt: Timestamp,
  })
  .openapi("Consent");
type ConsentOut = z.infer<typeof ConsentSchema>;

const ConsentCreateSchema = z
  .strictObject({
    phoneNumber: E164,
    type: z.enum(CONSENT_TYPES),
    verificationMethod: z.enum(CONSENT_METHODS),
    optedInAt: z.iso
      .datetime({ offset: true })
      .optional()
      .openapi({ description: "When the person agreed; default now." }),
    expiresAt: z.iso.datetime({ offset: true }).nullable().optional(),
    ipAddress: z
      .union([z.ipv4(), z.ipv6()])
      .optional()
      .openapi({ description: "The person's IP address when they agreed (web forms)." }),
    userAgent: z.string().max(1000).optional(),
  })
  .refine((b) => !b.expiresAt || new Date(b.expiresAt) > new Date(b.optedInAt ?? Date.now()), {
    message: "expiresAt must be after optedInAt",
    path: ["expiresAt"],
  })
  .openapi("ConsentCreate");

const ConsentParams = z.object({ consentId: pathParam("consentId", resourceId("cns")) });

const createConsent = createRoute({
  method: "post",
  path: "/consent",
  tags: ["Consent"],
  summary: "Record consent",
  description:
    "With verificationMethod `sms` the record is created `pending` and a confirmation SMS asks the person to reply YES " +
    "(double opt-in); it counts for calls only once they have.",
  security: needs("consent:write"),
  middleware: [authorize("consent:write"), unitOfWork()] as const,
  request: { body: jsonBody(ConsentCreateSchema) },
  responses: { 201: jsonResponse(ConsentSchema, "Recorded"), ...problems(400, 401, 403, 413, 415, 422, 502) },
});

const listConsent = createRoute({
  method: "get",
  path: "/consent",
  tags: ["Consent"],
  summary: "List consent records, newest first",
  security: needs("consent:read"),
  middleware: [authorize("consent:read")] as const,
  request: {
    query: z.strictObject({
      ...pageQuery,
      phoneNumber: E164.optional().openapi({ param: { name: "phoneNumber", in: "query" } }),
      type: z
        .enum(CONSENT_TYPES)
        .optional()
        .openapi({ param: { name: "type", in: "query" } }),
      status: z
        .enum(CONSENT_STATUSES)
        .optional()
        .openapi({ param: { name: "status", in: "query" } }),
    }),
  },
  responses: {
    200: jsonResponse(pageOf(ConsentSchema, "ConsentPage"), "A page of consent records"),
    ...problems(400, 401, 403),
  },
});

const getConsent = createRoute({
  method: "get",
  path: "/consent/{consentId}",
  tags: ["Consent"],
  summary: "Get a consent record",
  security: needs("consent:read"),
  middleware: [authorize("consent:read")] as const,
  request: { params: ConsentParams },
  responses: { 200: jsonResponse(ConsentSchema, "The record"), ...problems(400, 401, 403, 404) },
});

const revokeConsent = createRoute({
  method: "post",
  path: "/consent/{consentId}/revoke",
  tags: ["Consent"],
  summary: "Revoke consent",
  description: "Revoking a revoked record changes nothing.",
  security: needs("consent:write"),
  middleware: [authorize("consent:write"), unitOfWork()] as const,
  request: { params: ConsentParams },
  responses: { 200: jsonResponse(ConsentSchema, "The revoked record"), ...problems(400, 401, 403, 404) },
});

/** Texts the YES request from the account's first Twilio number; the inbound SMS webhook handles the answer. */
async function sendConsentConfirmation(c: Context<AppEnv>, to: string, purpose: string): Promise<void> {
  const { tenantId } = c.var.auth;
  const [number] = await c.var.db
    .select({ e164: phoneNumbers.e164 })
    .from(phoneNumbers)
    .where(and(eq(phoneNumbers.tenantId, tenantId), eq(phoneNumbers.provider, "twilio")))
    .orderBy(asc(phoneNumbers.createdAt))
    .limit(1);
  if (!number)
    throw new ProblemError("unprocessable", "SMS consent needs a Twilio number on the account to text from.");
  const [account] = await c.var.db.select({ name: accounts.name }).from(accounts).where(eq(accounts.id, tenantId));
  const { TWILIO_ACCOUNT_SID: accountSid, TWILIO_AUTH_TOKEN: authToken, TWILIO_API_BASE: apiBase } = c.env;
  if (!accountSid || !authToken)
    throw new ProblemError("carrier-error", "Twilio is not configured, so the SMS cannot be sent.");
  try {
    await sendTwilioSms(
      { accountSid, authToken, apiBase },
      { to, from: number.e164, body: confirmationText(account?.name ?? "AYBIZA", purpose) },
    );
  } catch (error) {
    throw new ProblemError("carrier-error", `The confirmation SMS could not be sent: ${String(error)}`);
  }
}

function consentOut(row: typeof consentRecords.$inferSelect): ConsentOut {
  return {
    id: row.id as ConsentOut["id"],
    phoneNumber: row.phoneNumber,
    type: row.type,
    status: row.status,
    verificationMethod: row.verificationMethod,
    optedInAt: isoOrNull(row.optedInAt),
    expiresAt: isoOrNull(row.expiresAt),
    ipAddress: row.ipAddress,
    userAgent: row.userAgent,
    revokedAt: isoOrNull(row.revokedAt),
    createdAt: iso(row.createdAt),
  };
}

async function loadConsent(db: Db, tenantId: string, id: string) {
  const [row] = await db
    .select()
    .from(consentRecords)
    .where(and(eq(consentRecords.tenantId, tenantId), eq(consentRecords.id, id)));
  if (!row) throw notFound("consent record", id);
  return row;
}

export const consentApi = new OpenAPIHono<AppEnv>()
  .openapi(createConsent, async (c) => {
    const body = c.req.valid("json");
    const { tenantId } = c.var.auth;
    const id = newResourceId("cns");
    // SMS consent is double opt-in: the record waits (pending, no opt-in time) for the person's YES.
    const viaSms = body.verificationMethod === "sms";
    const [row] = await c.var.db
      .insert(consentRecords)
      .values({
        tenantId,
        id,
        phoneNumber: body.phoneNumber,
        type: body.type,
        status: viaSms ? "pending" : "active",
        verificationMethod: body.verificationMethod,
        optedInAt: viaSms ? null : body.optedInAt ? new Date(body.optedInAt) : new Date(),
        expiresAt: body.expiresAt ? new Date(body.expiresAt) : null,
        ipAddress: body.ipAddress ?? null,
        userAgent: body.userAgent ?? null,
      })
      .returning();
    if (!row) throw new Error("insert returned no row");
    if (viaSms) await sendConsentConfirmation(c, body.phoneNumber, body.type);
    await audit(c, { action: "consent.create", targetType: "consent", targetId: id });
    return c.json(consentOut(row), 201);
  })
  .openapi(listConsent, async (c) => {
    const q = c.req.valid("query");
    const rows = await c.var.db
      .select()
      .from(consentRecords)
      .where(
        and(
          eq(consentRecords.tenantId, c.var.auth.tenantId),
          q.phoneNumber ? eq(consentRecords.phoneNumber, q.phoneNumber) : undefined,
          q.type ? eq(consentRecords.type, q.type) : undefined,
          q.status ? eq(consentRecords.status, q.status) : undefined,
          afterCursor(q.cursor, consentRecords.createdAt, consentRecords.id),
        ),
      )
      .orderBy(desc(consentRecords.createdAt), desc(consentRecords.id))
      .limit(q.limit + 1);
    return c.json(toPage(rows, q.limit, consentOut), 200);
  })
  .openapi(getConsent, async (c) => {
    const { consentId } = c.req.valid("param");
    return c.json(consentOut(await loadConsent(c.var.db, c.var.auth.tenantId, consentId)), 200);
  })
  .openapi(revokeConsent, async (c) => {
    const { consentId } = c.req.valid("param");
    const { tenantId } = c.var.auth;
    const existing = await loadConsent(c.var.db, tenantId, consentId);
    if (existing.revokedAt) return c.json(consentOut(existing), 200);
    const [row] = await c.var.db
      .update(consentRecords)
      .set({ status: "revoked", revokedAt: new Date() })
      .where(and(eq(consentRecords.tenantId, tenantId), eq(consentRecords.id, consentId)))
      .returning();
    if (!row) throw notFound("consent record", consentId);
    await audit(c, { action: "consent.revoke", targetType: "consent", targetId: consentId });
    const { jurisdiction } = c.var.auth;
    afterCommit(c, async () => {
      await publishEvent(c.env, { id: tenantId, jurisdiction }, "consent.revoked", {
        consentId: row.id,
        phoneNumber: row.phoneNumber,
        type: row.type,
        revokedAt: (row.revokedAt ?? new Date()).toISOString(),
        via: "api",
      });
    });
    return c.json(consentOut(row), 200);
  });
