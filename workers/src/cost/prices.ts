// The dated list-price table calls are priced from. Every price names where it was read and when; a deployment
// with negotiated rates overrides entries with PRICE_TABLE_JSON (see docs/cost.md) instead of editing code.
// Pure data and a zod schema: no runtime-specific imports, so Node scripts (docs/cost.md's measurement) use it too.
import { z } from "zod";

/** What a quantity is counted in. */
export const PRICE_UNITS = ["minute", "second", "token", "character"] as const;

export const PriceEntrySchema = z
  .object({
    /** The meter this prices (workers/src/cost/meters.ts), e.g. `llm.input_tokens`. */
    meter: z.string().min(1).max(64),
    /**
     * Which variant of the meter: a base Bedrock model ID prefix (`anthropic.claude-haiku-4-5`) for token meters,
     * a product (`twilio/inbound`, `deepgram/nova-3`) otherwise. `*` matches any variant without its own entry.
     */
    variant: z.string().min(1).max(128),
    /** Bedrock only: `global` profiles are list price, geo profiles (`us.`, `eu.`, …) carry a regional premium. */
    scope: z.enum(["global", "regional"]).optional(),
    unit: z.enum(PRICE_UNITS),
    usdPerUnit: z.number().nonnegative(),
    /** Where the price was read. */
    source: z.string().min(1).max(500),
    /** When it was read (YYYY-MM-DD). */
    asOf: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  })
  .strict();
export type PriceEntry = z.infer<typeof PriceEntrySchema>;

export const PriceTableSchema = z
  .object({
    asOf: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    currency: z.literal("USD"),
    prices: z.array(PriceEntrySchema).max(500),
  })
  .strict();
export type PriceTable = z.infer<typeof PriceTableSchema>;

/** What PRICE_TABLE_JSON may hold: entries that replace the built-in ones with the same meter/variant/scope. */
export const PriceOverrideSchema = z
  .object({ asOf: PriceTableSchema.shape.asOf.optional(), prices: z.array(PriceEntrySchema).max(500) })
  .strict();

const READ = "2026-12-06";
const BEDROCK = "aws.amazon.com/bedrock/pricing (on-demand, Anthropic); regional = geo profile, +10% over global";
const BEDROCK_FLAT = "aws.amazon.com/bedrock/pricing (on-demand, Anthropic); same price global and regional";
const PER_MTOK = 1 / 1_000_000;

/** Bedrock's four token meters for one model, global and regional (geo inference profiles cost 10% more). */
function claude(variant: string, input: number, output: number, premium: boolean, meterPrefix = "llm"): PriceEntry[] {
  // Anthropic's ratios: a 5-minute cache write costs 1.25x input, a cache read 0.1x input.
  const rates: [string, number][] = [
    ["input_tokens", input],
    ["output_tokens", output],
    ["cache_write_tokens", input * 1.25],
    ["cache_read_tokens", input * 0.1],
  ];
  const out: PriceEntry[] = [];
  for (const scope of ["global", "regional"] as const) {
    const factor = scope === "regional" && premium ? 1.1 : 1;
    for (const [meter, usdPerMtok] of rates) {
      out.push({
        meter: `${meterPrefix}.${meter}`,
        variant,
        scope,
        unit: "token",
        usdPerUnit: round12(usdPerMtok * factor * PER_MTOK),
        source: `${premium ? BEDROCK : BEDROCK_FLAT}: $${usdPerMtok} per million tokens`,
        asOf: READ,
      });
    }
  }
  return out;
}

function round12(n: number): number {
  return Math.round(n * 1e12) / 1e12;
}

/**
 * Media-node compute per call-second: one vCPU-hour (AWS c7g.large on-demand in us-east-1, $0.0725 an hour for
 * 2 vCPUs) shared by the 150 concurrent calls a core sustains in `npm run bench` (docs/benchmarks.md).
 */
const VCPU_HOUR_USD = 0.0725 / 2;
const CALLS_PER_CORE = 150;

/** Base model ID prefix, $ per million input and output tokens, and whether geo profiles cost 10% more (4.5 on). */
const CLAUDE_MODELS: [string, number, number, boolean][] = [
  ["anthropic.claude-haiku-4-5", 1, 5, true],
  ["anthropic.claude-sonnet-4-5", 3, 15, true],
  ["anthropic.claude-sonnet-4-6", 3, 15, true],
  // Sonnet 4 (…-sonnet-4-20250514) and Opus 4 (…-opus-4-20250514): the date follows the major version.
  ["anthropic.claude-sonnet-4-2", 3, 15, false],
  ["anthropic.claude-3-7-sonnet", 3, 15, false],
  ["anthropic.claude-opus-4-5", 5, 25, true],
  ["anthropic.claude-opus-4-6", 5, 25, true],
  ["anthropic.claude-opus-4-1", 15, 75, false],
  ["anthropic.claude-opus-4-2", 15, 75, false],
];

export const BUILTIN_PRICE_TABLE: PriceTable = {
  asOf: READ,
  currency: "USD",
  prices: [
    {
      meter: "carrier.minutes",
      variant: "twilio/inbound",
      unit: "minute",
      usdPerUnit: 0.0085,
      source: "twilio.com/en-us/voice/pricing/us: receive calls, local number, per started minute",
      asOf: READ,
    },
    {
      meter: "carrier.minutes",
      variant: "twilio/outbound",
      unit: "minute",
      usdPerUnit: 0.013,
      source: "twilio.com/en-us/voice/pricing/us: make calls, per started minute",
      asOf: READ,
    },
    {
      meter: "carrier.minutes",
      variant: "telnyx/inbound",
      unit: "minute",
      usdPerUnit: 0.0035,
      source: "telnyx.com/pricing/call-control: inbound local, US",
      asOf: READ,
    },
    {
      meter: "carrier.minutes",
      variant: "telnyx/outbound",
      unit: "minute",
      usdPerUnit: 0.005,
      source: "telnyx.com/pricing/call-control: outbound local, US",
      asOf: READ,
    },
    {
      meter: "stt.seconds",
      variant: "deepgram/nova-3",
      unit: "second",
      usdPerUnit: round12(0.0077 / 60),
      source: "deepgram.com/pricing: Nova-3 streaming, pay as you go, $0.0077 per minute billed per second",
      asOf: READ,
    },
    {
      meter: "tts.characters",
      variant: "deepgram/aura-2",
      unit: "character",
      usdPerUnit: 0.00003,
      source: "deepgram.com/pricing: Aura-2, pay as you go, $0.030 per 1,000 characters",
      asOf: READ,
    },
    {
      meter: "platform.seconds",
      variant: "media-node",
      unit: "second",
      usdPerUnit: round12(VCPU_HOUR_USD / CALLS_PER_CORE / 3600),
      source:
        "aws.amazon.com/ec2/pricing/on-demand: c7g.large $0.0725/h (2 vCPU), shared by 150 calls per core (docs/benchmarks.md)",
      asOf: READ,
    },
    ...CLAUDE_MODELS.flatMap(([variant, input, output, premium]) => [
      ...claude(variant, input, output, premium),
      ...claude(variant, input, output, premium, "analysis"),
    ]),
  ],
};

/**
 * The table in force: the built-in one with PRICE_TABLE_JSON's entries laid over it. An override that does not
 * parse is reported and ignored, so a typo in a deployment setting cannot take the calls API down.
 */
export function priceTableFrom(overrideJson: string | undefined, onError: (message: string) => void): PriceTable {
  if (!overrideJson) return BUILTIN_PRICE_TABLE;
  let parsed: z.infer<typeof PriceOverrideSchema>;
  try {
    parsed = PriceOverrideSchema.parse(JSON.parse(overrideJson));
  } catch (error) {
    onError(`PRICE_TABLE_JSON is not a valid price override, using the built-in table: ${String(error)}`);
    return BUILTIN_PRICE_TABLE;
  }
  const key = (p: PriceEntry) => `${p.meter}|${p.variant}|${p.scope ?? ""}`;
  const merged = new Map(BUILTIN_PRICE_TABLE.prices.map((p) => [key(p), p]));
  for (const p of parsed.prices) merged.set(key(p), p);
  return { asOf: parsed.asOf ?? BUILTIN_PRICE_TABLE.asOf, currency: "USD", prices: [...merged.values()] };
}
