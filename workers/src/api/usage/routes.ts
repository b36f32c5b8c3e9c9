// GET /v1/usage: the account's calls, connected minutes, answer latency and cost per UTC day and agent. The
// console's usage page reads exactly this shape (issue 12), so fields are only ever added.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { priceTableFrom } from "../../cost/prices.ts";
import { usageReport } from "../../cost/read.ts";
import { agents } from "../../db/schema.ts";
import type { AppEnv } from "../../env.ts";
import { resourceId } from "../../lib/ids.ts";
import { notFound, ProblemError, problems } from "../../lib/problem.ts";
import { authorize } from "../../middleware/auth.ts";
import { jsonResponse, needs } from "../common.ts";

const DAY_MS = 86_400_000;
/** The longest range one request may ask for. */
const MAX_DAYS = 366;
const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "a UTC date, YYYY-MM-DD");

const UsageQuery = z.strictObject({
  from: Day.optional().openapi({
    param: { name: "from", in: "query" },
    description: "First UTC day (inclusive). Default: 29 days before `to`.",
    example: "2026-12-01",
  }),
  to: Day.optional().openapi({
    param: { name: "to", in: "query" },
    description: "Last UTC day (inclusive). Default: today.",
    example: "2026-12-06",
  }),
  agentId: resourceId("agt")
    .optional()
    .openapi({ param: { name: "agentId", in: "query" }, description: "Only this agent's calls." }),
});

const UsageDaySchema = z
  .object({
    date: z.string().openapi({ description: "UTC day the calls started.", example: "2026-12-06" }),
    agentId: z.string().nullable().openapi({ description: "null: calls that reached no agent." }),
    calls: z.number().int(),
    minutes: z.number().openapi({ description: "Connected minutes (answer to hang-up), two decimals." }),
    latencyP50Ms: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "Median of caller stopped speaking → agent audio started, over answered turns." }),
    latencyP95Ms: z.number().int().nullable(),
    costUsd: z.number().openapi({ description: "Priced usage of these calls (see a call's cost breakdown)." }),
  })
  .openapi("UsageDay");

const UsageSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    days: z.array(UsageDaySchema).openapi({ description: "Days and agents with calls, oldest first." }),
    totals: z.object({ calls: z.number().int(), minutes: z.number(), costUsd: z.number() }),
  })
  .openapi("Usage");

const getUsage = createRoute({
  method: "get",
  path: "/usage",
  tags: ["Usage"],
  summary: "Calls, minutes, latency and cost per day and agent",
  security: needs("calls:read"),
  middleware: [authorize("calls:read")] as const,
  request: { query: UsageQuery },
  responses: { 200: jsonResponse(UsageSchema, "Usage per day and agent"), ...problems(400, 401, 403, 404) },
});

function rangeOf(q: { from?: string | undefined; to?: string | undefined }): { from: string; to: string } {
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const to = q.to ?? day(Date.now());
  const from = q.from ?? day(Date.parse(`${to}T00:00:00Z`) - (30 - 1) * DAY_MS);
  const errors: { location: "query"; pointer: string; detail: string }[] = [];
  for (const [name, value] of [
    ["from", from],
    ["to", to],
  ] as const) {
    if (Number.isNaN(Date.parse(`${value}T00:00:00Z`)) || day(Date.parse(`${value}T00:00:00Z`)) !== value)
      errors.push({ location: "query", pointer: `/${name}`, detail: "not a calendar date" });
  }
  if (errors.length === 0) {
    const span = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS;
    if (span < 0) errors.push({ location: "query", pointer: "/from", detail: "from is after to" });
    else if (span >= MAX_DAYS)
      errors.push({ location: "query", pointer: "/from", detail: `at most ${MAX_DAYS} days per request` });
  }
  if (errors.length > 0) throw new ProblemError("validation-error", "The date range is not valid.", { errors });
  return { from, to };
}

export const usageApi = new OpenAPIHono<AppEnv>().openapi(getUsage, async (c) => {
  const q = c.req.valid("query");
  const { tenantId } = c.var.auth;
  const range = rangeOf(q);
  if (q.agentId) {
    // Deleted agents still have usage; another tenant's agent is not found, like everywhere else.
    const [agent] = await c.var.db
      .select({ id: agents.id })
      .from(agents)
      .where(and(eq(agents.tenantId, tenantId), eq(agents.id, q.agentId)));
    if (!agent) throw notFound("agent", q.agentId);
  }
  const table = priceTableFrom(c.env.PRICE_TABLE_JSON, (m) => console.error(m));
  return c.json(await usageReport(c.var.db, { tenantId, ...range, agentId: q.agentId }, table), 200);
});
