// Reads a call's meters and prices them, and rolls usage up per day and agent for GET /v1/usage. Every query is
// scoped by tenant: another tenant's calls can never enter a sum.
import { and, eq, gte, lt, sql } from "drizzle-orm";
import { calls, callUsage } from "../db/schema.ts";
import type { Db } from "../db/types.ts";
import type { PriceTable } from "./prices.ts";
import { type Cost, priceUsage, round6 } from "./pricing.ts";

export async function callCost(db: Db, tenantId: string, callId: string, table: PriceTable): Promise<Cost> {
  const rows = await db
    .select({
      meter: callUsage.meter,
      variant: callUsage.variant,
      speculative: callUsage.speculative,
      quantity: sql<number>`sum(${callUsage.quantity})::int`,
    })
    .from(callUsage)
    .where(and(eq(callUsage.tenantId, tenantId), eq(callUsage.callId, callId)))
    .groupBy(callUsage.meter, callUsage.variant, callUsage.speculative);
  return priceUsage(rows, table);
}

export interface UsageDay {
  date: string;
  agentId: string | null;
  calls: number;
  minutes: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  costUsd: number;
}

export interface UsageReport {
  from: string;
  to: string;
  days: UsageDay[];
  totals: { calls: number; minutes: number; costUsd: number };
}

const DAY_MS = 86_400_000;

/** Calls created on the UTC days from..to (inclusive), per day and agent, with their latency and priced usage. */
export async function usageReport(
  db: Db,
  q: { tenantId: string; from: string; to: string; agentId?: string | undefined },
  table: PriceTable,
): Promise<UsageReport> {
  const start = new Date(`${q.from}T00:00:00.000Z`);
  const end = new Date(Date.parse(`${q.to}T00:00:00.000Z`) + DAY_MS);
  const inRange = and(
    eq(calls.tenantId, q.tenantId),
    gte(calls.createdAt, start),
    lt(calls.createdAt, end),
    q.agentId ? eq(calls.agentId, q.agentId) : undefined,
  );
  const day = sql<string>`to_char(${calls.createdAt} at time zone 'UTC', 'YYYY-MM-DD')`;

  const perDay = await db
    .select({
      date: day,
      agentId: calls.agentId,
      calls: sql<number>`count(*)::int`,
      connectedMs: sql<string>`coalesce(sum(extract(epoch from (${calls.endedAt} - ${calls.answeredAt})) * 1000), 0)::text`,
    })
    .from(calls)
    .where(inRange)
    .groupBy(day, calls.agentId);

  // Caller stopped speaking → first agent audio, over every answered exchange (the greeting has no caller turn).
  const latency = (await db.execute(sql`
    select to_char(c.created_at at time zone 'UTC', 'YYYY-MM-DD') as date, c.agent_id as "agentId",
      percentile_cont(0.5) within group (order by extract(epoch from (t.first_audio_out_at - t.caller_speech_ended_at)) * 1000) as p50,
      percentile_cont(0.95) within group (order by extract(epoch from (t.first_audio_out_at - t.caller_speech_ended_at)) * 1000) as p95
    from ${calls} c join call_turns t on t.tenant_id = c.tenant_id and t.call_id = c.id
    where c.tenant_id = ${q.tenantId} and c.created_at >= ${start.toISOString()} and c.created_at < ${end.toISOString()}
      ${q.agentId ? sql`and c.agent_id = ${q.agentId}` : sql``}
      and t.speaker = 'agent' and t.turn_index > 0
      and t.first_audio_out_at is not null and t.caller_speech_ended_at is not null
    group by 1, 2`)) as unknown as { rows: { date: string; agentId: string | null; p50: unknown; p95: unknown }[] };

  const meters = await db
    .select({
      date: day,
      agentId: calls.agentId,
      meter: callUsage.meter,
      variant: callUsage.variant,
      speculative: callUsage.speculative,
      quantity: sql<number>`sum(${callUsage.quantity})::int`,
    })
    .from(callUsage)
    .innerJoin(calls, and(eq(calls.tenantId, callUsage.tenantId), eq(calls.id, callUsage.callId)))
    .where(and(inRange, eq(callUsage.tenantId, q.tenantId)))
    .groupBy(day, calls.agentId, callUsage.meter, callUsage.variant, callUsage.speculative);

  const key = (date: string, agentId: string | null) => `${date}|${agentId ?? ""}`;
  const lat = new Map(latency.rows.map((r) => [key(r.date, r.agentId), r]));
  const metersBy = new Map<string, typeof meters>();
  for (const m of meters) {
    const k = key(m.date, m.agentId);
    metersBy.set(k, [...(metersBy.get(k) ?? []), m]);
  }
  const ms = (v: unknown) => (v === null || v === undefined ? null : Math.round(Number(v)));
  const days: UsageDay[] = perDay
    .map((d) => {
      const k = key(d.date, d.agentId);
      return {
        date: d.date,
        agentId: d.agentId,
        calls: d.calls,
        minutes: Math.round((Number(d.connectedMs) / 60_000) * 100) / 100,
        latencyP50Ms: ms(lat.get(k)?.p50),
        latencyP95Ms: ms(lat.get(k)?.p95),
        costUsd: priceUsage(metersBy.get(k) ?? [], table).total,
      };
    })
    .sort((a, b) => a.date.localeCompare(b.date) || (a.agentId ?? "").localeCompare(b.agentId ?? ""));
  return {
    from: q.from,
    to: q.to,
    days,
    totals: {
      calls: days.reduce((n, d) => n + d.calls, 0),
      minutes: Math.round(days.reduce((n, d) => n + d.minutes, 0) * 100) / 100,
      costUsd: round6(days.reduce((n, d) => n + d.costUsd, 0)),
    },
  };
}
