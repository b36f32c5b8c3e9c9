// How long the emulated model takes: time to first token (lower when the prompt prefix was a cache read)
// and a steady output rate after it. "realistic" is what the benchmark runs against, so the platform's own
// share of a turn's latency can be told apart from the model's.
import { z } from "zod";
import type { ModelFamily } from "./models.ts";

export interface ModelLatency {
  ttftMs: number;
  /** Time to first token when part of the prompt was read from the prompt cache. */
  ttftCacheHitMs: number;
  /** Output pace after the first token. 0 (or less) sends everything at once. */
  tokensPerSecond: number;
}

/**
 * Latency per model. A request looks up, in order: its exact model ID, the base model ID (profile prefix
 * removed), the family (`opus`, `sonnet`, `haiku`), then `default`.
 */
export type ModelLatencyTable = { default: ModelLatency } & { [modelIdOrFamily: string]: ModelLatency };

export type LatencyProfileName = "instant" | "realistic";

export const LATENCY_PROFILES: Record<LatencyProfileName, ModelLatencyTable> = {
  instant: { default: { ttftMs: 0, ttftCacheHitMs: 0, tokensPerSecond: 0 } },
  realistic: {
    default: { ttftMs: 700, ttftCacheHitMs: 350, tokensPerSecond: 80 },
    haiku: { ttftMs: 450, ttftCacheHitMs: 250, tokensPerSecond: 140 },
  },
};

const ModelLatencySchema = z.object({
  ttftMs: z.number().min(0).max(120_000),
  ttftCacheHitMs: z.number().min(0).max(120_000),
  tokensPerSecond: z.number().max(1_000_000),
});

export const LatencyOptionSchema = z.union([
  z.enum(["instant", "realistic"]),
  z.object({ default: ModelLatencySchema }).catchall(ModelLatencySchema),
]);

/**
 * The option wins, then `BEDROCK_EMULATOR_LATENCY` (a JSON table, for a standalone emulator whose per-model
 * latencies are set from outside), then `EMULATOR_PROFILE`; none given means "instant" (fast, predictable tests).
 */
export function resolveLatencyTable(
  option: LatencyProfileName | ModelLatencyTable | undefined,
  env: { EMULATOR_PROFILE?: string | undefined; BEDROCK_EMULATOR_LATENCY?: string | undefined },
): ModelLatencyTable {
  const fromJson = env.BEDROCK_EMULATOR_LATENCY ? parseJsonSetting("BEDROCK_EMULATOR_LATENCY", env) : undefined;
  const profile = env.EMULATOR_PROFILE;
  const chosen = option ?? fromJson ?? (profile === undefined || profile === "" ? "instant" : profile);
  const parsed = LatencyOptionSchema.safeParse(chosen);
  if (!parsed.success) {
    throw new Error(
      `Bedrock emulator: unknown latency profile ${JSON.stringify(chosen)}; use "instant", "realistic" or a table ` +
        'such as {"default":{"ttftMs":700,"ttftCacheHitMs":350,"tokensPerSecond":80}}',
    );
  }
  return typeof parsed.data === "string" ? LATENCY_PROFILES[parsed.data] : (parsed.data as ModelLatencyTable);
}

export function latencyFor(
  table: ModelLatencyTable,
  requestedId: string,
  baseId: string,
  family: ModelFamily,
): ModelLatency {
  return table[requestedId] ?? table[baseId] ?? table[family] ?? table.default;
}

function parseJsonSetting(name: string, env: Record<string, string | undefined>): unknown {
  try {
    return JSON.parse(env[name] ?? "");
  } catch {
    throw new Error(`Bedrock emulator: ${name} is not valid JSON`);
  }
}
