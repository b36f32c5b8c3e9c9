// Call records, read-only here: the edge writes them during calls (call-control issue); placing outbound calls
// (POST /v1/calls) arrives with that issue too.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, asc, desc, eq, gte, lt, sql } from "drizzle-orm";
import { SPOKEN_LINE_SOURCES } from "../../../../shared/session-events.ts";
import { PRICE_UNITS, priceTableFrom } from "../../cost/prices.ts";
import { COST_CATEGORIES } from "../../cost/pricing.ts";
import { callCost } from "../../cost/read.ts";
import {
  ANALYSIS_STATUSES,
  CALL_DIRECTIONS,
  CALL_STATUSES,
  callAnalyses,
  calls,
  callTurns,
  SPEAKERS,
  TELEPHONY_PROVIDERS,
} from "../../db/schema.ts";
import type { AppEnv } from "../../env.ts";
import { pathParam, resourceId } from "../../lib/ids.ts";
import { afterCursor, pageOf, pageQuery, toPage } from "../../lib/pagination.ts";
import { notFound, problems } from "../../lib/problem.ts";
import { E164, iso, isoOrNull, Timestamp } from "../../lib/schemas.ts";
import { authorize } from "../../middleware/auth.ts";
import { jsonResponse, needs } from "../common.ts";

const CallSchema = z
  .object({
    id: resourceId("call"),
    direction: z.enum(CALL_DIRECTIONS),
    from: z.string(),
    to: z.string(),
    status: z.enum(CALL_STATUSES),
    region: z.string().nullable(),
    agentId: z.string().nullable(),
    agentVersionId: z.string().nullable(),
    provider: z.enum(TELEPHONY_PROVIDERS).nullable(),
    providerCallSid: z.string().nullable(),
    createdAt: Timestamp,
    answeredAt: Timestamp.nullable(),
    endedAt: Timestamp.nullable(),
    endReason: z.string().nullable(),
    durationMs: z.number().int().nullable().openapi({ description: "Answer to end; null until it ended." }),
  })
  .openapi("Call");
type CallOut = z.infer<typeof CallSchema>;

const TurnSchema = z
  .object({
    id: z.string(),
    turnIndex: z.number().int().openapi({ description: "0 is the agent's greeting; exchanges count from 1." }),
    speaker: z.enum(SPEAKERS),
    text: z.string(),
    interrupted: z.boolean().openapi({ description: "The caller cut the agent off; text is what was heard." }),
    createdAt: Timestamp,
    latency: z
      .object({
        callerSpeechEndedAt: Timestamp.nullable().openapi({ description: "The caller stopped speaking." }),
        sttFinalAt: Timestamp.nullable().openapi({ description: "The final transcript arrived." }),
        llmRequestAt: Timestamp.nullable().openapi({ description: "The turn was decided and the model asked." }),
        llmFirstTokenAt: Timestamp.nullable().openapi({ description: "The model's first token arrived." }),
        ttsFirstByteAt: Timestamp.nullable().openapi({ description: "The first synthesized audio arrived." }),
        firstAudioOutAt: Timestamp.nullable().openapi({ description: "The first agent audio went to the caller." }),
        firstAudioMs: z.number().int().nullable().openapi({ description: "Caller stopped → agent audio started." }),
        platformOverheadMs: z
          .number()
          .int()
          .nullable()
          .openapi({ description: "Part of that wait spent in the platform itself." }),
      })
      .nullable()
      .openapi({ description: "Latency waterfall of agent turns; null for caller turns." }),
    usage: z
      .object({
        inputTokens: z.number().int().nullable(),
        outputTokens: z.number().int().nullable(),
        cacheReadTokens: z.number().int().nullable(),
        cacheWriteTokens: z.number().int().nullable(),
      })
      .nullable(),
    modelId: z.string().nullable(),
    tools: z
      .array(z.object({ id: z.string(), name: z.string(), ok: z.boolean(), ms: z.number() }))
      .openapi({ description: "Tools the agent ran in this turn; empty for caller turns." }),
    lines: z
      .array(
        z
          .object({
            source: z.enum(SPOKEN_LINE_SOURCES).openapi({
              description:
                "acknowledgement: while a tool runs; filler: after 2 s of dead air; apology: the model failed; goodbye: the platform is draining; bridge: the call resumed on another media node after its node was lost.",
            }),
            text: z.string(),
          })
          .openapi("SpokenLine"),
      )
      .openapi({
        description:
          "Lines the platform itself spoke in this turn (not the model), in the order spoken; empty for caller turns. When the model gave no words (it failed, or the turn is a resumed call's bridge), `text` is these lines.",
      }),
  })
  .openapi("CallTurn");
type TurnOut = z.infer<typeof TurnSchema>;

const CallAnalysisSchema = z
  .object({
    status: z.enum(ANALYSIS_STATUSES).openapi({ description: "failed: see error; nothing else was stored." }),
    summary: z.string().nullable(),
    success: z
      .object({ pass: z.boolean(), reason: z.string() })
      .nullable()
      .openapi({ description: "Against the agent's success rubric; null when it has none." }),
    data: z
      .record(z.string(), z.unknown())
      .nullable()
      .openapi({ description: "Extracted against the agent's data schema; null when refused (see dataErrors)." }),
    dataErrors: z
      .array(z.string())
      .nullable()
      .openapi({ description: "Why the model's extraction did not satisfy the schema and was not stored." }),
    error: z.string().nullable(),
    modelId: z.string().nullable(),
    createdAt: Timestamp,
  })
  .openapi("CallAnalysis");

const CostLineSchema = z
  .object({
    category: z.enum(COST_CATEGORIES),
    meter: z.string().openapi({ example: "llm.input_tokens" }),
    variant: z.string().openapi({ description: "Model ID for token meters, else the product (twilio/inbound)." }),
    speculative: z.boolean().openapi({ description: "Model requests started before the caller finished." }),
    quantity: z.number().int(),
    unit: z.enum(PRICE_UNITS).nullable(),
    unitPriceUsd: z.number().nullable().openapi({ description: "null: the price table has no price for it." }),
    costUsd: z.number().openapi({ description: "quantity × unit price, to a millionth of a dollar." }),
    source: z.string().nullable().openapi({ description: "Where the price was read." }),
  })
  .openapi("CostLine");

const CallCostSchema = z
  .object({
    total: z.number().openapi({ description: "The sum of the breakdown's lines." }),
    currency: z.literal("USD"),
    pricesAsOf: z.string().openapi({ description: "Date of the price table used (list prices unless overridden)." }),
    breakdown: z.array(CostLineSchema),
  })
  .openapi("CallCost");

const CallWithTurnsSchema = CallSchema.extend({
  turns: z.array(TurnSchema),
  analysis: CallAnalysisSchema.nullable().openapi({ description: "Post-call analysis; null until it has run." }),
  cost: CallCostSchema,
}).openapi("CallWithTurns");

const qp = <T extends z.ZodType>(name: string, schema: T, description: string) =>
  schema.openapi({ param: { name, in: "query" }, description });

const CallsQuery = z.strictObject({
  ...pageQuery,
  status: qp("status", z.enum(CALL_STATUSES).optional(), "Only calls in this status."),
  direction: qp("direction", z.enum(CALL_DIRECTIONS).optional(), "inbound or outbound."),
  from: qp("from", E164.optional(), "Caller number (E.164)."),
  to: qp("to", E164.optional(), "Called number (E.164)."),
  createdAfter: qp("createdAfter", z.iso.datetime({ offset: true }).optional(), "Created at or after (ISO 8601)."),
  createdBefore: qp("createdBefore", z.iso.datetime({ offset: true }).optional(), "Created before (ISO 8601)."),
});

const listCalls = createRoute({
  method: "get",
  path: "/calls",
  tags: ["Calls"],
  summary: "List calls, newest first",
  security: needs("calls:read"),
  middleware: [authorize("calls:read")] as const,
  request: { query: CallsQuery },
  responses: { 200: jsonResponse(pageOf(CallSchema, "CallPage"), "A page of calls"), ...problems(400, 401, 403) },
});

const getCall = createRoute({
  method: "get",
  path: "/calls/{callId}",
  tags: ["Calls"],
  summary: "Get a call with its turns",
  security: needs("calls:read"),
  middleware: [authorize("calls:read")] as const,
  request: { params: z.object({ callId: pathParam("callId", resourceId("call")) }) },
  responses: { 200: jsonResponse(CallWithTurnsSchema, "The call"), ...problems(400, 401, 403, 404) },
});

function callOut(row: typeof calls.$inferSelect): CallOut {
  return {
    id: row.id as CallOut["id"],
    direction: row.direction,
    from: row.fromNumber,
    to: row.toNumber,
    status: row.status,
    region: row.region,
    agentId: row.agentId,
    agentVersionId: row.agentVersionId,
    provider: row.provider,
    providerCallSid: row.providerCallSid,
    createdAt: iso(row.createdAt),
    answeredAt: isoOrNull(row.answeredAt),
    endedAt: isoOrNull(row.endedAt),
    endReason: row.endReason,
    durationMs: row.answeredAt && row.endedAt ? row.endedAt.getTime() - row.answeredAt.getTime() : null,
  };
}

function turnOut(t: typeof callTurns.$inferSelect): TurnOut {
  const measured = t.callerSpeechEndedAt !== null || t.firstAudioOutAt !== null || t.platformOverheadMs !== null;
  const metered = [t.inputTokens, t.outputTokens, t.cacheReadTokens, t.cacheWriteTokens].some((n) => n !== null);
  return {
    id: t.id,
    turnIndex: t.turnIndex,
    speaker: t.speaker,
    text: t.text,
    interrupted: t.interrupted,
    createdAt: iso(t.createdAt),
    latency: measured
      ? {
          callerSpeechEndedAt: isoOrNull(t.callerSpeechEndedAt),
          sttFinalAt: isoOrNull(t.sttFinalAt),
          llmRequestAt: isoOrNull(t.llmRequestAt),
          llmFirstTokenAt: isoOrNull(t.llmFirstTokenAt),
          ttsFirstByteAt: isoOrNull(t.ttsFirstByteAt),
          firstAudioOutAt: isoOrNull(t.firstAudioOutAt),
          firstAudioMs:
            t.callerSpeechEndedAt && t.firstAudioOutAt
              ? t.firstAudioOutAt.getTime() - t.callerSpeechEndedAt.getTime()
              : null,
          platformOverheadMs: t.platformOverheadMs,
        }
      : null,
    usage: metered
      ? {
          inputTokens: t.inputTokens,
          outputTokens: t.outputTokens,
          cacheReadTokens: t.cacheReadTokens,
          cacheWriteTokens: t.cacheWriteTokens,
        }
      : null,
    modelId: t.modelId,
    tools: t.tools ?? [],
    lines: t.lines ?? [],
  };
}

export const callsApi = new OpenAPIHono<AppEnv>()
  .openapi(listCalls, async (c) => {
    const q = c.req.valid("query");
    const rows = await c.var.db
      .select()
      .from(calls)
      .where(
        and(
          eq(calls.tenantId, c.var.auth.tenantId),
          q.status ? eq(calls.status, q.status) : undefined,
          q.direction ? eq(calls.direction, q.direction) : undefined,
          q.from ? eq(calls.fromNumber, q.from) : undefined,
          q.to ? eq(calls.toNumber, q.to) : undefined,
          q.createdAfter ? gte(calls.createdAt, new Date(q.createdAfter)) : undefined,
          q.createdBefore ? lt(calls.createdAt, new Date(q.createdBefore)) : undefined,
          afterCursor(q.cursor, calls.createdAt, calls.id),
        ),
      )
      .orderBy(desc(calls.createdAt), desc(calls.id))
      .limit(q.limit + 1);
    return c.json(toPage(rows, q.limit, callOut), 200);
  })
  .openapi(getCall, async (c) => {
    const { callId } = c.req.valid("param");
    const { tenantId } = c.var.auth;
    const [call] = await c.var.db
      .select()
      .from(calls)
      .where(and(eq(calls.tenantId, tenantId), eq(calls.id, callId)));
    if (!call) throw notFound("call", callId);
    const turns = await c.var.db
      .select()
      .from(callTurns)
      .where(and(eq(callTurns.tenantId, tenantId), eq(callTurns.callId, callId)))
      // Within an exchange the caller spoke first.
      .orderBy(asc(callTurns.turnIndex), sql`${callTurns.speaker} = 'agent'`);
    const [analysis] = await c.var.db
      .select()
      .from(callAnalyses)
      .where(and(eq(callAnalyses.tenantId, tenantId), eq(callAnalyses.callId, callId)));
    const cost = await callCost(
      c.var.db,
      tenantId,
      callId,
      priceTableFrom(c.env.PRICE_TABLE_JSON, (m) => console.error(m)),
    );
    return c.json(
      {
        ...callOut(call),
        turns: turns.map(turnOut),
        analysis: analysis
          ? {
              status: analysis.status,
              summary: analysis.summary,
              success:
                analysis.successPass === null
                  ? null
                  : { pass: analysis.successPass, reason: analysis.successReason ?? "" },
              data: analysis.data,
              dataErrors: analysis.dataErrors,
              error: analysis.error,
              modelId: analysis.modelId,
              createdAt: iso(analysis.createdAt),
            }
          : null,
        cost,
      },
      200,
    );
  });
