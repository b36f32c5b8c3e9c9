// Placing outbound calls (POST /v1/calls) and the live feed of a call (GET /v1/calls/{callId}/live, WebSocket).
// Outbound calls pass consent, calling hours and the tenant's limits before Twilio hears of them; each refusal
// is a 403 problem naming its reason.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { accounts, CONSENT_TYPES } from "../../db/schema.ts";
import { locateSession } from "../../do/call-ledger/locate.ts";
import type { AppEnv } from "../../env.ts";
import { audit } from "../../lib/audit.ts";
import { resourceId } from "../../lib/ids.ts";
import { notFound, ProblemError, problems } from "../../lib/problem.ts";
import { E164, Timestamp } from "../../lib/schemas.ts";
import { authorize } from "../../middleware/auth.ts";
import { unitOfWork } from "../../middleware/unit-of-work.ts";
import { placeOutboundCall } from "../../outbound/place-call.ts";
import { twilioCredentials } from "../../telephony/twilio-rest.ts";
import { accountCallingWindow } from "../accounts/calling-hours.ts";
import { jsonBody, jsonResponse, needs } from "../common.ts";

const PlaceCallSchema = z
  .strictObject({
    agentId: resourceId("agt"),
    to: E164.openapi({ description: "The person to call." }),
    from: E164.openapi({ description: "One of the account's Twilio numbers." }),
    purpose: z.enum(CONSENT_TYPES).openapi({ description: "Needs an active consent record of the same type." }),
  })
  .openapi("PlaceCall");

const PlacedCallSchema = z
  .object({
    id: resourceId("call"),
    status: z.literal("queued"),
    direction: z.literal("outbound"),
    from: z.string(),
    to: z.string(),
    agentId: z.string(),
    agentVersionId: z.string(),
    purpose: z.enum(CONSENT_TYPES),
    providerCallSid: z.string(),
    createdAt: Timestamp,
  })
  .openapi("PlacedCall");

const placeCall = createRoute({
  method: "post",
  path: "/calls",
  tags: ["Calls"],
  summary: "Place an outbound call",
  description:
    "Calls `to` from `from` with the agent's published version. Refused with 403 and a reason (consent-missing, " +
    "consent-revoked, consent-expired, outside-calling-hours, over-limit) when a gate says no; nothing is dialled then.",
  security: needs("calls:write"),
  middleware: [authorize("calls:write"), unitOfWork()] as const,
  request: { body: jsonBody(PlaceCallSchema) },
  responses: {
    201: jsonResponse(PlacedCallSchema, "Dialling"),
    ...problems(400, 401, 403, 404, 409, 422, 429, 502),
  },
});

export const callControlApi = new OpenAPIHono<AppEnv>().openapi(placeCall, async (c) => {
  const body = c.req.valid("json");
  const { tenantId, plan, jurisdiction } = c.var.auth;
  const [account] = await c.var.db
    .select({ start: accounts.callingWindowStartMinute, end: accounts.callingWindowEndMinute })
    .from(accounts)
    .where(eq(accounts.id, tenantId));
  const env = c.env;
  const twilio = twilioCredentials(env);
  const result = await placeOutboundCall(
    { db: c.var.db, env, twilio, publicBaseUrl: env.PUBLIC_BASE_URL ?? new URL(c.req.url).origin },
    {
      tenantId,
      jurisdiction,
      plan,
      callingWindow: account
        ? accountCallingWindow({ callingWindowStartMinute: account.start, callingWindowEndMinute: account.end })
        : undefined,
      agentId: body.agentId,
      to: body.to,
      from: body.from,
      purpose: body.purpose,
    },
  );
  if (!result.ok) {
    if (result.kind === "refused") {
      const headers: Record<string, string> =
        result.retryAfterMs !== undefined
          ? { "retry-after": String(Math.max(1, Math.ceil(result.retryAfterMs / 1000))) }
          : {};
      throw new ProblemError(result.reason, result.detail, { headers });
    }
    if (result.kind === "invalid") {
      if (result.status === 404) throw notFound("agent", body.agentId);
      throw new ProblemError(result.status === 409 ? "conflict" : "unprocessable", result.detail);
    }
    throw new ProblemError("carrier-error", result.detail);
  }
  await audit(c, { action: "call.create", targetType: "call", targetId: result.callId });
  const record = result.record;
  return c.json(
    {
      id: result.callId as z.infer<typeof PlacedCallSchema>["id"],
      status: "queued" as const,
      direction: "outbound" as const,
      from: record.fromNumber,
      to: record.toNumber,
      agentId: record.agentId ?? body.agentId,
      agentVersionId: record.agentVersionId ?? "",
      purpose: body.purpose,
      providerCallSid: result.providerCallSid,
      createdAt: new Date(record.createdAt).toISOString(),
    },
    201,
  );
});

/**
 * Live events of one call over a WebSocket (for the console): a snapshot first, then state changes, turns and
 * actions as they happen. Authenticated like the REST API; another tenant's call is a 404. Not in the OpenAPI
 * document, which cannot describe a WebSocket.
 */
export const liveRoutes = new Hono<AppEnv>().get("/calls/:callId/live", authorize("calls:read"), async (c) => {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    return c.json({ title: "Upgrade Required", status: 426, detail: "Open this URL as a WebSocket." }, 426);
  }
  const callId = c.req.param("callId");
  const session = await locateSession(c.env, callId);
  const snapshot = await session?.snapshot();
  if (!session || snapshot?.record.tenantId !== c.var.auth.tenantId) throw notFound("call", callId);
  const upstream = await session.fetch(c.req.raw);
  if (!upstream.webSocket) return upstream;
  // A fresh Response: the one from the object has immutable headers, and middleware adds a request ID.
  return new Response(null, { status: 101, webSocket: upstream.webSocket });
});
