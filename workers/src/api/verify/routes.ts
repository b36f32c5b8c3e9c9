// Support-call verification: start (texts a one-time code to the account owner) and check (the caller reads it
// back). Every outcome is audited in the support tenant's log, lockout included; codes are never returned.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, asc, eq } from "drizzle-orm";
import type { Context } from "hono";
import type { AccountId } from "../../../../shared/ids.ts";
import { openDb } from "../../db/client.ts";
import { auditLog, phoneNumbers } from "../../db/schema.ts";
import type { AppEnv } from "../../env.ts";
import { audit } from "../../lib/audit.ts";
import { newResourceId, pathParam, resourceId } from "../../lib/ids.ts";
import { notFound, ProblemError, problems } from "../../lib/problem.ts";
import { E164, Timestamp } from "../../lib/schemas.ts";
import { authorize } from "../../middleware/auth.ts";
import { unitOfWork } from "../../middleware/unit-of-work.ts";
import { withEveryDatabase } from "../../residency/databases.ts";
import { DEFAULT_TWILIO_API_BASE } from "../../telephony/twilio-rest.ts";
import { MAX_ATTEMPTS } from "../../verify/codes.ts";
import { accountOwnerPhone, checkVerification, startVerification } from "../../verify/service.ts";
import { jsonBody, jsonResponse, needs } from "../common.ts";

const StartSchema = z
  .strictObject({
    accountId: z.string().min(1).max(400).openapi({
      description: "The account ID as the caller said it (any spacing, spoken digits or NATO letters).",
      example: "A Y B dash K three M two 9 P X 4 7 T N Y",
    }),
    from: E164.optional().openapi({
      description: "The account's number to text from; default its first Twilio number.",
    }),
  })
  .openapi("VerificationStart");

const VerificationSchema = z
  .object({
    id: resourceId("ver"),
    accountId: z.string(),
    status: z.enum(["pending", "verified", "incorrect", "unreadable", "locked", "expired", "already-verified"]),
    sentTo: z.string().optional().openapi({ description: "The masked phone the code went to." }),
    attemptsLeft: z.number().int(),
    expiresAt: Timestamp.optional(),
  })
  .openapi("Verification");

const CheckSchema = z
  .strictObject({
    code: z
      .string()
      .min(1)
      .max(200)
      .openapi({ description: "The code as the caller read it back.", example: "4 8 2 9 1 3" }),
  })
  .openapi("VerificationCheck");

const start = createRoute({
  method: "post",
  path: "/verify",
  tags: ["Verification"],
  summary: "Start verifying a caller",
  description:
    "Parses the account ID as heard (a wrong check character is a 422 before any lookup), then texts a 6-digit code to the " +
    "account owner's phone. The code expires in 5 minutes and allows 5 attempts.",
  security: needs("verify:write"),
  middleware: [authorize("verify:write"), unitOfWork()] as const,
  request: { body: jsonBody(StartSchema) },
  responses: { 201: jsonResponse(VerificationSchema, "Code sent"), ...problems(400, 401, 403, 404, 422, 429, 502) },
});

const check = createRoute({
  method: "post",
  path: "/verify/{verificationId}/check",
  tags: ["Verification"],
  summary: "Check the code the caller read back",
  description:
    "`verified`, `incorrect` (with attempts left), `unreadable` (not six digits; costs no attempt), `locked` or `expired`.",
  security: needs("verify:write"),
  middleware: [authorize("verify:write"), unitOfWork()] as const,
  request: {
    params: z.object({ verificationId: pathParam("verificationId", resourceId("ver")) }),
    body: jsonBody(CheckSchema),
  },
  responses: { 200: jsonResponse(VerificationSchema, "The outcome"), ...problems(400, 401, 403, 404, 429) },
});

/**
 * Audits a refused start. The request's transaction rolls back with the error response, so the entry is written
 * on a connection of its own: a refusal is exactly what an audit trail of identity checks must not lose.
 */
async function auditRefusal(c: Context<AppEnv>, action: string, targetId: string): Promise<void> {
  const { db, close } = openDb(c.env, { max: 1 });
  try {
    await db.insert(auditLog).values({
      tenantId: c.var.auth.tenantId,
      id: newResourceId("aud"),
      actorType: "api_key",
      actorId: c.var.auth.keyId,
      action,
      targetType: "account",
      targetId,
      requestId: c.var.requestId,
    });
  } finally {
    await close().catch(() => undefined);
  }
}

function supportTenants(raw: string | undefined): Set<string> {
  return new Set(
    (raw ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );
}

export const verifyApi = new OpenAPIHono<AppEnv>()
  .openapi(start, async (c) => {
    const body = c.req.valid("json");
    const { tenantId, keyId } = c.var.auth;
    const env = c.env;
    const mayVerifyAnyone = supportTenants(env.SUPPORT_TENANT_IDS).has(tenantId);
    const result = await startVerification(
      {
        db: c.var.db,
        findAccount: async (id: AccountId) => {
          // Outside support lines an account may only verify its own owner; others do not exist for it.
          if (!mayVerifyAnyone && id !== tenantId) return undefined;
          return withEveryDatabase(env, c.var.db, async (dbs) => {
            for (const db of dbs) {
              const found = await accountOwnerPhone(db, id);
              if (found) return found;
            }
            return undefined;
          });
        },
        twilio:
          env.TWILIO_ACCOUNT_SID && env.TWILIO_AUTH_TOKEN
            ? {
                accountSid: env.TWILIO_ACCOUNT_SID,
                authToken: env.TWILIO_AUTH_TOKEN,
                apiBase: env.TWILIO_API_BASE ?? DEFAULT_TWILIO_API_BASE,
              }
            : undefined,
        smsFrom: async () => {
          // Only one of the account's own Twilio numbers; `from` picks which.
          const [number] = await c.var.db
            .select({ e164: phoneNumbers.e164 })
            .from(phoneNumbers)
            .where(
              and(
                eq(phoneNumbers.tenantId, tenantId),
                eq(phoneNumbers.provider, "twilio"),
                body.from ? eq(phoneNumbers.e164, body.from) : undefined,
              ),
            )
            .orderBy(asc(phoneNumbers.createdAt))
            .limit(1);
          return number?.e164;
        },
        secret: env.VERIFY_CODE_SECRET,
      },
      { tenantId, keyId, accountIdAsHeard: body.accountId },
    );
    if (!result.ok) {
      // An ID that does not parse or names no account (for this tenant) is a 4xx like any bad input; a real
      // account whose check could not start is an outcome worth keeping.
      if (result.reason === "no-phone-on-file" || result.reason === "sms-failed") {
        await auditRefusal(c, `verification.${result.reason}`, result.accountId);
      }
      switch (result.reason) {
        case "unparseable-account-id":
          throw new ProblemError("unprocessable", result.detail, {
            errors: [{ location: "body", pointer: "/accountId", detail: `${result.failure}: ${result.detail}` }],
          });
        case "unknown-account":
          throw notFound("account", result.accountId);
        case "no-phone-on-file":
        case "no-sender":
          throw new ProblemError("unprocessable", result.detail);
        case "sms-failed":
          throw new ProblemError("carrier-error", result.detail);
      }
    }
    await audit(c, {
      action: "verification.start",
      targetType: "account",
      targetId: result.accountId,
      afterId: result.id,
    });
    return c.json(
      {
        id: result.id as z.infer<typeof VerificationSchema>["id"],
        accountId: result.accountId,
        status: "pending" as const,
        sentTo: result.sentTo,
        attemptsLeft: MAX_ATTEMPTS,
        expiresAt: new Date(result.expiresAt).toISOString(),
      },
      201,
    );
  })
  .openapi(check, async (c) => {
    const { verificationId } = c.req.valid("param");
    const { code } = c.req.valid("json");
    const result = await checkVerification(c.var.db, {
      tenantId: c.var.auth.tenantId,
      id: verificationId,
      codeAsHeard: code,
      secret: c.env.VERIFY_CODE_SECRET,
    });
    if (!result.found) throw notFound("verification", verificationId);
    await audit(c, {
      action: `verification.${result.outcome}`,
      targetType: "account",
      targetId: result.accountId,
      afterId: verificationId,
    });
    return c.json(
      {
        id: verificationId,
        accountId: result.accountId,
        status: result.outcome,
        attemptsLeft: result.attemptsLeft,
      },
      200,
    );
  });
