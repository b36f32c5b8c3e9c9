// Pricing, constructed directly: meters from a call record and turn events, priced with the dated table.
import { describe, expect, it } from "vitest";
import type { TurnEvent } from "../../../shared/session-events.ts";
import { callUsageRows, turnUsageRows } from "../../../workers/src/cost/meters.ts";
import { BUILTIN_PRICE_TABLE, PriceTableSchema, priceTableFrom } from "../../../workers/src/cost/prices.ts";
import { bedrockModel, priceUsage } from "../../../workers/src/cost/pricing.ts";

const SONNET_US = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
const HAIKU_GLOBAL = "global.anthropic.claude-haiku-4-5-20251001-v1:0";

function turn(over: Partial<TurnEvent>): TurnEvent {
  return {
    type: "turn",
    callId: "call_x",
    seq: 1,
    index: 1,
    userText: "hello",
    assistantText: "Hi there!",
    generatedText: "Hi there!",
    interrupted: false,
    thinking: false,
    tools: [],
    modelIds: [SONNET_US],
    usage: { inputTokens: 1000, outputTokens: 50, cacheReadInputTokens: 4000, cacheWriteInputTokens: 0 },
    waterfall: {},
    at: 0,
    ...over,
  };
}

describe("the price table", () => {
  it("is dated, names a source for every price, and parses as the override schema does", () => {
    expect(PriceTableSchema.parse(BUILTIN_PRICE_TABLE)).toEqual(BUILTIN_PRICE_TABLE);
    for (const p of BUILTIN_PRICE_TABLE.prices) expect(p.source.length, `${p.meter} ${p.variant}`).toBeGreaterThan(10);
  });

  it("prices Bedrock by base model, global profiles at list price and geo profiles at the regional premium", () => {
    expect(bedrockModel(SONNET_US)).toEqual({ base: "anthropic.claude-sonnet-4-5-20250929-v1:0", scope: "regional" });
    expect(bedrockModel(`arn:aws:bedrock:us-east-1:123:inference-profile/${HAIKU_GLOBAL}`)).toEqual({
      base: "anthropic.claude-haiku-4-5-20251001-v1:0",
      scope: "global",
    });
    const cost = priceUsage(
      [
        { meter: "llm.input_tokens", variant: SONNET_US, speculative: false, quantity: 1_000_000 },
        { meter: "llm.input_tokens", variant: HAIKU_GLOBAL, speculative: false, quantity: 1_000_000 },
        { meter: "llm.output_tokens", variant: HAIKU_GLOBAL, speculative: false, quantity: 1_000_000 },
        { meter: "llm.cache_read_tokens", variant: HAIKU_GLOBAL, speculative: false, quantity: 1_000_000 },
      ],
      BUILTIN_PRICE_TABLE,
    );
    expect(cost.breakdown.map((l) => [l.variant, l.meter, l.costUsd])).toEqual([
      [HAIKU_GLOBAL, "llm.cache_read_tokens", 0.1],
      [HAIKU_GLOBAL, "llm.input_tokens", 1],
      [HAIKU_GLOBAL, "llm.output_tokens", 5],
      [SONNET_US, "llm.input_tokens", 3.3],
    ]);
    expect(cost.total).toBe(9.4);
  });

  it("shows a model it has no price for as unpriced instead of guessing", () => {
    const cost = priceUsage(
      [
        {
          meter: "llm.input_tokens",
          variant: "us.meta.llama4-maverick-17b-instruct-v1:0",
          speculative: false,
          quantity: 5,
        },
      ],
      BUILTIN_PRICE_TABLE,
    );
    expect(cost.breakdown[0]).toMatchObject({ unitPriceUsd: null, costUsd: 0, source: null });
    expect(cost.total).toBe(0);
  });

  it("takes a deployment's override over the built-in entries and ignores one that does not parse", () => {
    const override = JSON.stringify({
      asOf: "2027-01-01",
      prices: [
        {
          meter: "carrier.minutes",
          variant: "twilio/inbound",
          unit: "minute",
          usdPerUnit: 0.004,
          source: "our Twilio contract",
          asOf: "2027-01-01",
        },
      ],
    });
    const table = priceTableFrom(override, () => undefined);
    expect(table.asOf).toBe("2027-01-01");
    const line = priceUsage(
      [{ meter: "carrier.minutes", variant: "twilio/inbound", speculative: false, quantity: 10 }],
      table,
    );
    expect(line).toMatchObject({ total: 0.04, breakdown: [{ source: "our Twilio contract" }] });
    expect(table.prices).toHaveLength(BUILTIN_PRICE_TABLE.prices.length);

    const errors: string[] = [];
    expect(priceTableFrom('{"prices":[{"meter":"x"}]}', (m) => errors.push(m))).toBe(BUILTIN_PRICE_TABLE);
    expect(errors[0]).toMatch(/PRICE_TABLE_JSON is not a valid price override/);
  });
});

describe("a call's cost", () => {
  it("is every meter of the call priced, speculative model requests on lines of their own, summing to the total", () => {
    const answeredAt = 1_000_000;
    const rows = [
      ...callUsageRows({ direction: "inbound", provider: "twilio", answeredAt, endedAt: answeredAt + 125_400 }),
      ...turnUsageRows(
        turn({ index: 0, userText: "", generatedText: "Thanks for calling!", modelIds: [], usage: zero() }),
      ),
      ...turnUsageRows(
        turn({
          index: 1,
          ttsCharacters: 40,
          llmUsage: [
            {
              modelId: SONNET_US,
              speculative: false,
              inputTokens: 1200,
              outputTokens: 60,
              cacheReadInputTokens: 3000,
              cacheWriteInputTokens: 0,
            },
            {
              modelId: SONNET_US,
              speculative: true,
              inputTokens: 1100,
              outputTokens: 20,
              cacheReadInputTokens: 3000,
              cacheWriteInputTokens: 0,
            },
          ],
        }),
      ),
      // A node that reports only the turn's total: billed to its first model.
      ...turnUsageRows(turn({ index: 2 })),
    ];
    const cost = priceUsage(rows, BUILTIN_PRICE_TABLE);
    const line = (meter: string, speculative = false) =>
      cost.breakdown.find((l) => l.meter === meter && l.speculative === speculative);

    expect(line("carrier.minutes")).toMatchObject({ variant: "twilio/inbound", quantity: 3, costUsd: 0.0255 });
    expect(line("stt.seconds")).toMatchObject({ quantity: 126, costUsd: round6((126 * 0.0077) / 60) });
    expect(line("tts.characters")).toMatchObject({
      quantity: "Thanks for calling!".length + 40 + "Hi there!".length,
      unitPriceUsd: 0.00003,
    });
    // Sonnet 4.5 on a geo (us.) profile: $3.30 in, $16.50 out, $0.33 cache read per million tokens.
    expect(line("llm.input_tokens")).toMatchObject({ quantity: 2200, costUsd: round6(2200 * 3.3e-6) });
    expect(line("llm.output_tokens")).toMatchObject({ quantity: 110, costUsd: round6(110 * 16.5e-6) });
    expect(line("llm.cache_read_tokens")).toMatchObject({ quantity: 7000, costUsd: round6(7000 * 0.33e-6) });
    expect(line("llm.input_tokens", true)).toMatchObject({ quantity: 1100, costUsd: round6(1100 * 3.3e-6) });
    expect(line("llm.output_tokens", true)).toMatchObject({ quantity: 20 });
    expect(cost.breakdown.every((l) => l.unitPriceUsd !== null)).toBe(true);
    expect(cost.total).toBe(round6(cost.breakdown.reduce((s, l) => s + l.costUsd, 0)));
    expect(cost.total).toBeGreaterThan(0.04);
  });

  it("has no carrier line for a web call and nothing for a call never answered", () => {
    expect(
      callUsageRows({ direction: "inbound", provider: null, answeredAt: 0, endedAt: 61_000 }).map((r) => r.meter),
    ).toEqual(["stt.seconds", "platform.seconds"]);
    expect(callUsageRows({ direction: "outbound", provider: "twilio", answeredAt: null, endedAt: 5 })).toEqual([]);
  });
});

function zero() {
  return { inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheWriteInputTokens: 0 };
}

function round6(n: number) {
  return Math.round(n * 1e6) / 1e6;
}
