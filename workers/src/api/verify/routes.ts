// Support-call verification: start (texts a one-time code to the account owner) and check (the caller reads it
// back). Every outcome is audited in the support tenant's log, lockout included; codes are never returned.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, asc, eq } from "drizzle-orm";
import type { Context, MiddlewareHandler } from "hono";
import { phoneNumbers } from "../../db/schema.ts";
import type { AppEnv } from "../../env.ts";
import { audit } from "../../lib/audit.ts";
import { pathParam, resourceId } from "../../lib/ids.ts";
import { notFound, ProblemError, problems } from "../../lib/problem.ts";
import { E164, Timestamp } from "../../lib/schemas.ts";
import { authorize } from "../../middleware/auth.ts";
import { unitOfWork } from "../../middleware/unit-of-work.ts";
import { twilioCredentials } from "../../telephony/twilio-rest.ts";
import { MAX_ATTEMPTS } from "../../verify/codes.ts";
import { checkVerification, startVerification, verifiableAccounts } from "../../verify/service.ts";
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

type Refusal = { action: string; targetType: "account" | "verification"; targetId: string };
const refusals = new WeakMap<Context<AppEnv>, Refusal>();

/** Notes a refusal for `auditRefusals` to write once the request's transaction has rolled back. */
function noteRefusal(c: Context<AppEnv>, refusal: Refusal): void {
  refusals.set(c, refusal);
}

/**
 * Writes the refusal the handler noted, after `unitOfWork` has rolled the request back (it sits outside it): a
 * refusal is exactly what an audit trail of identity checks must not lose, and an error response keeps no write
 * made inside the transaction. Same handle as the request (the tenant's home database), no second connection.
 * Refusals say no more than the response does (an ID another tenant owns is as unknown here as in the 404).
 */
const auditRefusals = (): MiddlewareHandler<AppEnv> =>
  async function auditRefusals(c, next) {
    await next();
    const refusal = refusals.get(c);
    if (!refusal) return;
    refusals.delete(c);
    await audit(c, refusal);
  };

const start = createRoute({
  method: "post",
  path: "/verify",
  tags: ["Verification"],
  summary: "Start verifying a caller",
  description:
    "Parses the account ID as heard (a wrong check character is a 422 before any lookup), then texts a 6-digit code to the " +
    "account owner's phone. The code expires in 5 minutes and allows 5 attempts.",
  security: needs("verify:write"),
  middleware: [authorize("verify:write"), auditRefusals(), unitOfWork()] as const,
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
  middleware: [authorize("verify:write"), auditRefusals(), unitOfWork()] as const,
  request: {
    params: z.object({ verificationId: pathParam("verificationId", resourceId("ver")) }),
    body: jsonBody(CheckSchema),
  },
  responses: { 200: jsonResponse(VerificationSchema, "The outcome"), ...problems(400, 401, 403, 404, 429) },
});

/** An account ID that did not parse is kept as heard (it is what was tried), within a bounded length. */
const MAX_HEARD_IN_AUDIT = 128;

export const verifyApi = new OpenAPIHono<AppEnv>()
  .openapi(start, async (c) => {
    const body = c.req.valid("json");
    const { tenantId, keyId } = c.var.auth;
    const env = c.env;
    const result = await startVerification(
      {
        db: c.var.db,
        findAccount: verifiableAccounts(env, c.var.db, tenantId),
        twilio: twilioCredentials(env),
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
      // Every refusal is audited as `verification.<reason>`, including IDs that do not parse or name no account:
      // repeated guesses at account IDs are what an audit of identity checks is for.
      noteRefusal(c, {
        action: `verification.${result.reason}`,
        targetType: "account",
        targetId:
          result.reason === "unparseable-account-id"
            ? body.accountId.trim().slice(0, MAX_HEARD_IN_AUDIT)
            : result.accountId,
      });
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
    // No audit entry: there is no verification of this tenant's to record an outcome of, and an ID of another
    // tenant's must change nothing anywhere (the isolation suite). Guessing codes needs a real ID, whose every
    // attempt is audited and which locks after five.
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
