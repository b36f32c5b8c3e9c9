// Prices meter totals with a price table: one breakdown line per (meter, variant, speculative), the total the sum
// of the lines. Lines are rounded to a millionth of a dollar and the total is the sum of the rounded lines, so the
// breakdown a tenant sees always adds up.
import type { Meter } from "./meters.ts";
import type { PriceEntry, PriceTable } from "./prices.ts";

export const COST_CATEGORIES = ["carrier", "stt", "llm", "tts", "analysis", "platform"] as const;
export type CostCategory = (typeof COST_CATEGORIES)[number];

export interface MeterTotal {
  meter: string;
  variant: string;
  speculative: boolean;
  quantity: number;
}

export interface CostLine {
  category: CostCategory;
  meter: string;
  variant: string;
  speculative: boolean;
  quantity: number;
  unit: PriceEntry["unit"] | null;
  /** null: no price for this variant in the table (the line then costs 0 and says so). */
  unitPriceUsd: number | null;
  costUsd: number;
  source: string | null;
}

export interface Cost {
  total: number;
  currency: "USD";
  /** The date of the price table used. */
  pricesAsOf: string;
  breakdown: CostLine[];
}

const GEO_PREFIX = /^(global|us|eu|apac|jp|au|ca|us-gov)\./;

/** A Bedrock model or profile ID (or ARN) as the base model ID and whether it is a global profile. */
export function bedrockModel(id: string): { base: string; scope: "global" | "regional" } {
  const last = id.includes("/") ? (id.split("/").pop() ?? id) : id;
  const geo = GEO_PREFIX.exec(last);
  return { base: geo ? last.slice(geo[0].length) : last, scope: geo?.[1] === "global" ? "global" : "regional" };
}

export function priceFor(table: PriceTable, meter: string, variant: string): PriceEntry | undefined {
  const candidates = table.prices.filter((p) => p.meter === meter);
  if (meter.startsWith("llm.") || meter.startsWith("analysis.")) {
    const { base, scope } = bedrockModel(variant);
    // The longest matching prefix wins, so a specific model beats a family entry.
    const matching = candidates
      .filter((p) => p.variant !== "*" && base.startsWith(p.variant) && (p.scope === undefined || p.scope === scope))
      .sort((a, b) => b.variant.length - a.variant.length);
    if (matching[0]) return matching[0];
  } else {
    const exact = candidates.find((p) => p.variant === variant);
    if (exact) return exact;
  }
  return candidates.find((p) => p.variant === "*");
}

export function round6(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

export function categoryOf(meter: string): CostCategory {
  const head = meter.split(".")[0] as CostCategory;
  return (COST_CATEGORIES as readonly string[]).includes(head) ? head : "platform";
}

export function priceUsage(totals: MeterTotal[], table: PriceTable): Cost {
  const merged = new Map<string, MeterTotal>();
  for (const t of totals) {
    const key = `${t.meter}|${t.variant}|${t.speculative}`;
    const seen = merged.get(key);
    if (seen) seen.quantity += t.quantity;
    else merged.set(key, { ...t });
  }
  const order = (m: string) => COST_CATEGORIES.indexOf(categoryOf(m));
  const breakdown = [...merged.values()]
    .sort(
      (a, b) =>
        order(a.meter) - order(b.meter) ||
        a.variant.localeCompare(b.variant) ||
        Number(a.speculative) - Number(b.speculative) ||
        a.meter.localeCompare(b.meter),
    )
    .map((t): CostLine => {
      const price = priceFor(table, t.meter, t.variant);
      return {
        category: categoryOf(t.meter),
        meter: t.meter,
        variant: t.variant,
        speculative: t.speculative,
        quantity: t.quantity,
        unit: price?.unit ?? null,
        unitPriceUsd: price?.usdPerUnit ?? null,
        costUsd: price ? round6(t.quantity * price.usdPerUnit) : 0,
        source: price?.source ?? null,
      };
    });
  return {
    total: round6(breakdown.reduce((sum, l) => sum + l.costUsd, 0)),
    currency: "USD",
    pricesAsOf: table.asOf,
    breakdown,
  };
}

export type { Meter };
