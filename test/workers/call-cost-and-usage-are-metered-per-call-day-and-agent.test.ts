// Cost per call and GET /v1/usage through the real edge: a media node's events go into the call's CallLedger, its
// outbox writes the meters to Postgres, and the API prices them. Usage rolls up per UTC day and agent, and another
// tenant's calls never enter it.
import { describe, expect, it } from "vitest";
import type { CallStartedEvent } from "../../shared/session-events.ts";
import { callUsage } from "../../workers/src/db/schema.ts";
import type { CallRecord } from "../../workers/src/do/call-ledger/records.ts";
import { callRecord, edge, started, turn } from "./call-control/fixtures.ts";
import { call, createAgent, type Json, seedCall, signUp, withDb } from "./helpers.ts";

const SONNET_US = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
const HAIKU_US = "us.anthropic.claude-haiku-4-5-20251001-v1:0";
const round6 = (n: number) => Math.round(n * 1e6) / 1e6;

type Line = {
  meter: string;
  variant: string;
  speculative: boolean;
  quantity: number;
  unitPriceUsd: number;
  costUsd: number;
};
type CallOut = Json & { durationMs: number; cost: { total: number; currency: string; breakdown: Line[] } };

describe("cost per call", () => {
  it("meters a call through its ledger and prices every line from the list-price table", async () => {
    const t = await signUp("Metered");
    const agent = await createAgent(t, { publish: true });
    const record: CallRecord = callRecord(t.accountId, { agentId: agent.id });
    const ledger = edge.CALL_LEDGER.getByName(record.callId);
    await ledger.open({ record, state: "routed", leaseHeld: false });
    // Answered 125 s ago: the call's connected time is what the carrier, STT and media node bill.
    await ledger.ingest({ ...(started(record, 0) as CallStartedEvent), at: Date.now() - 125_000 });
    await ledger.ingest(turn(record, 0, 1, { userText: "", generatedText: "Hello, Acme here.", modelIds: [] }));
    const speculative = {
      modelId: HAIKU_US,
      speculative: true,
      inputTokens: 900,
      outputTokens: 30,
      cacheReadInputTokens: 0,
      cacheWriteInputTokens: 0,
    };
    const answered = {
      modelId: SONNET_US,
      speculative: false,
      inputTokens: 1500,
      outputTokens: 80,
      cacheReadInputTokens: 4000,
      cacheWriteInputTokens: 1200,
    };
    await ledger.ingest(turn(record, 1, 2, { llmUsage: [answered, speculative], ttsCharacters: 64 }));
    await ledger.ingest(turn(record, 1, 2, { llmUsage: [answered, speculative], ttsCharacters: 64 })); // redelivered
    await ledger.ingest({
      type: "call.ended",
      callId: record.callId,
      seq: 3,
      reason: "caller-hung-up",
      durationMs: 125_000,
      turns: 1,
      at: Date.now(),
    });
    expect((await ledger.flushOutbox()).remaining).toBe(0);

    const r = await call<CallOut>("GET", `/v1/calls/${record.callId}`, { key: t.key });
    expect(r.status).toBe(200);
    const { cost, durationMs } = r.body;
    const line = (meter: string, variant: string, spec = false) =>
      cost.breakdown.find((l) => l.meter === meter && l.variant === variant && l.speculative === spec);
    expect(cost.currency).toBe("USD");
    expect(line("carrier.minutes", "twilio/inbound")).toMatchObject({ quantity: Math.ceil(durationMs / 60_000) });
    expect(line("stt.seconds", "deepgram/nova-3")).toMatchObject({ quantity: Math.ceil(durationMs / 1000) });
    expect(line("tts.characters", "deepgram/aura-2")).toMatchObject({ quantity: "Hello, Acme here.".length + 64 });
    // Sonnet 4.5 on a us. profile (regional, +10%): $3.30 in, $16.50 out, $0.33 read, $4.125 write per million.
    expect(line("llm.input_tokens", SONNET_US)).toMatchObject({ quantity: 1500, costUsd: round6(1500 * 3.3e-6) });
    expect(line("llm.output_tokens", SONNET_US)).toMatchObject({ quantity: 80, costUsd: round6(80 * 16.5e-6) });
    expect(line("llm.cache_read_tokens", SONNET_US)).toMatchObject({ costUsd: round6(4000 * 0.33e-6) });
    expect(line("llm.cache_write_tokens", SONNET_US)).toMatchObject({ costUsd: round6(1200 * 4.125e-6) });
    // The speculative request is metered on lines of its own, at its own model's price (Haiku 4.5, regional).
    expect(line("llm.input_tokens", HAIKU_US, true)).toMatchObject({ quantity: 900, costUsd: round6(900 * 1.1e-6) });
    expect(line("llm.input_tokens", HAIKU_US, false)).toBeUndefined();
    for (const l of cost.breakdown) expect(l.costUsd, l.meter).toBe(round6(l.quantity * l.unitPriceUsd));
    expect(cost.total).toBe(round6(cost.breakdown.reduce((s, l) => s + l.costUsd, 0)));
    expect(r.body.analysis).toBeNull();
  });
});

type Usage = {
  from: string;
  to: string;
  days: {
    date: string;
    agentId: string | null;
    calls: number;
    minutes: number;
    latencyP50Ms: number | null;
    latencyP95Ms: number | null;
    costUsd: number;
  }[];
  totals: { calls: number; minutes: number; costUsd: number };
};

/** A finished call on `day` lasting `minutes`, its agent turns answering after the given latencies, and meters. */
async function pastCall(tenantId: string, agentId: string, day: string, minutes: number, latenciesMs: number[]) {
  const createdAt = new Date(`${day}T10:00:00.000Z`);
  const answeredAt = new Date(createdAt.getTime() + 2_000);
  const endedAt = new Date(answeredAt.getTime() + minutes * 60_000);
  const id = await seedCall(
    tenantId,
    { agentId, createdAt, answeredAt, endedAt },
    latenciesMs.flatMap((ms, i) => {
      const speechEnd = new Date(answeredAt.getTime() + (i + 1) * 10_000);
      return [
        { turnIndex: i + 1, speaker: "caller" as const, text: "question" },
        {
          turnIndex: i + 1,
          speaker: "agent" as const,
          text: "answer",
          callerSpeechEndedAt: speechEnd,
          firstAudioOutAt: new Date(speechEnd.getTime() + ms),
        },
      ];
    }),
  );
  await withDb((db) =>
    db.insert(callUsage).values([
      {
        tenantId,
        callId: id,
        source: "call",
        meter: "carrier.minutes",
        variant: "twilio/inbound",
        quantity: Math.ceil(minutes),
      },
      { tenantId, callId: id, source: "turn:1", meter: "llm.output_tokens", variant: SONNET_US, quantity: 1000 },
    ]),
  );
  // $0.0085 per carrier minute + 1000 Sonnet output tokens at $16.50 per million.
  return round6(Math.ceil(minutes) * 0.0085 + 1000 * 16.5e-6);
}

describe("GET /v1/usage", () => {
  it("reports calls, minutes, latency and cost per day and agent, and never counts another tenant's calls", async () => {
    const a = await signUp("Usage A");
    const b = await signUp("Usage B");
    const [front, sales] = [await createAgent(a), await createAgent(a, { name: "Sales" })];
    const other = await createAgent(b);
    const c1 = await pastCall(a.accountId, front.id, "2026-03-02", 2, [400, 600, 800]);
    const c2 = await pastCall(a.accountId, front.id, "2026-03-02", 1.5, [1000]);
    const c3 = await pastCall(a.accountId, sales.id, "2026-03-02", 3, [500]);
    const c4 = await pastCall(a.accountId, front.id, "2026-03-04", 0.5, []);
    await pastCall(a.accountId, front.id, "2026-03-06", 9, [100]); // after the range
    await pastCall(b.accountId, other.id, "2026-03-02", 30, [9000]); // another tenant, same day

    const r = await call<Usage>("GET", "/v1/usage?from=2026-03-01&to=2026-03-05", { key: a.key });
    expect(r.status).toBe(200);
    const [first, second] = [front.id, sales.id].sort();
    const frontDay = { date: "2026-03-02", agentId: front.id, calls: 2, minutes: 3.5, costUsd: round6(c1 + c2) };
    const salesDay = { date: "2026-03-02", agentId: sales.id, calls: 1, minutes: 3, costUsd: c3 };
    expect(r.body.days).toMatchObject([
      first === front.id ? frontDay : salesDay,
      second === front.id ? frontDay : salesDay,
      {
        date: "2026-03-04",
        agentId: front.id,
        calls: 1,
        minutes: 0.5,
        latencyP50Ms: null,
        latencyP95Ms: null,
        costUsd: c4,
      },
    ]);
    const frontRow = r.body.days.find((d) => d.agentId === front.id && d.date === "2026-03-02");
    // percentile_cont over 400, 600, 800, 1000: the median interpolates to 700, p95 to 970.
    expect(frontRow).toMatchObject({ latencyP50Ms: 700, latencyP95Ms: 970 });
    expect(r.body.totals).toEqual({ calls: 4, minutes: 7, costUsd: round6(c1 + c2 + c3 + c4) });
    expect(JSON.stringify(r.body)).not.toContain(other.id);
    expect(r.body).toMatchObject({ from: "2026-03-01", to: "2026-03-05" });

    const onlySales = await call<Usage>("GET", `/v1/usage?from=2026-03-01&to=2026-03-05&agentId=${sales.id}`, {
      key: a.key,
    });
    expect(onlySales.body.days).toMatchObject([{ agentId: sales.id, calls: 1 }]);
    expect(onlySales.body.totals.calls).toBe(1);

    const asB = await call<Usage>("GET", "/v1/usage?from=2026-03-01&to=2026-03-05", { key: b.key });
    expect(asB.body.totals).toMatchObject({ calls: 1, minutes: 30 });
  });

  it("refuses another tenant's agent, a reversed or too long range, and dates that do not exist", async () => {
    const a = await signUp("Usage C");
    const b = await signUp("Usage D");
    const theirs = await createAgent(b);
    const foreign = await call("GET", `/v1/usage?agentId=${theirs.id}`, { key: a.key });
    expect(foreign.status).toBe(404);
    for (const q of [
      "from=2026-03-05&to=2026-03-01",
      "from=2024-01-01&to=2026-03-01",
      "from=2026-02-30&to=2026-03-01",
    ]) {
      const r = await call<{ type: string }>("GET", `/v1/usage?${q}`, { key: a.key });
      expect(r.status, q).toBe(400);
      expect(r.body.type).toMatch(/validation-error$/);
    }
    const defaults = await call<Usage>("GET", "/v1/usage", { key: a.key });
    expect(defaults.status).toBe(200);
    expect(defaults.body.days).toEqual([]);
    expect(Date.parse(defaults.body.to) - Date.parse(defaults.body.from)).toBe(29 * 86_400_000);
  });
});
