// The Claude models the emulator knows, and how Bedrock answers a model ID in the request path:
// a cross-region inference profile (`us.` + base ID), a bare base ID (refused on demand for the
// Claude 4 generation), an ARN of either, or something unknown. Messages are the service's own wording.
import { BedrockError } from "./errors.ts";

export type ModelFamily = "opus" | "sonnet" | "haiku";

export interface ModelInfo {
  baseId: string;
  family: ModelFamily;
  /** Inference-profile prefixes this model is offered under. */
  geos: readonly string[];
  /** Whether the bare base ID may be invoked with on-demand throughput. */
  onDemand: boolean;
  /** Smallest prefix (tokens) a cache point caches; shorter prefixes are silently not cached. */
  minCacheTokens: number;
  maxOutputTokens: number;
  /** `adaptive` thinking is accepted from the 4.6 generation on. */
  adaptiveThinking: boolean;
  endOfLife: boolean;
}

function model(
  baseId: string,
  family: ModelFamily,
  geos: readonly string[],
  minCacheTokens: number,
  maxOutputTokens: number,
  extra: Partial<Pick<ModelInfo, "onDemand" | "adaptiveThinking" | "endOfLife">> = {},
): ModelInfo {
  return {
    baseId,
    family,
    geos,
    minCacheTokens,
    maxOutputTokens,
    onDemand: extra.onDemand ?? false,
    adaptiveThinking: extra.adaptiveThinking ?? false,
    endOfLife: extra.endOfLife ?? false,
  };
}

// protocols.md §6.5 and §6.6. Geos and cache minimums marked UNVERIFIED there are taken as the best reading;
// where unsure the emulator accepts rather than refuses, so it never fails a request the service would take.
const CATALOG: readonly ModelInfo[] = [
  model("anthropic.claude-opus-4-20250514-v1:0", "opus", ["us"], 1024, 32_000),
  model("anthropic.claude-opus-4-1-20250805-v1:0", "opus", ["us", "global"], 1024, 32_000),
  model("anthropic.claude-opus-4-5-20251101-v1:0", "opus", ["global", "us", "eu"], 4096, 64_000),
  model("anthropic.claude-opus-4-6-v1", "opus", ["global", "us", "eu", "jp", "apac"], 4096, 128_000, {
    adaptiveThinking: true,
  }),
  model("anthropic.claude-sonnet-4-20250514-v1:0", "sonnet", ["global", "us", "eu", "apac"], 1024, 64_000),
  model(
    "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "sonnet",
    ["global", "us", "eu", "jp", "apac", "au"],
    1024,
    64_000,
  ),
  model("anthropic.claude-sonnet-4-6", "sonnet", ["global", "us", "eu", "jp"], 1024, 64_000, {
    adaptiveThinking: true,
  }),
  model("anthropic.claude-3-7-sonnet-20250219-v1:0", "sonnet", ["us", "eu", "apac"], 1024, 64_000),
  model("anthropic.claude-haiku-4-5-20251001-v1:0", "haiku", ["global", "us", "eu", "jp", "apac", "au"], 4096, 64_000),
  // Retired: the service answers ResourceNotFoundException (seen on Converse for 3.5 Haiku in 2026).
  model("anthropic.claude-3-5-haiku-20241022-v1:0", "haiku", ["us"], 2048, 8_192, { endOfLife: true }),
  model("anthropic.claude-3-5-sonnet-20240620-v1:0", "sonnet", ["us", "eu", "apac"], 1024, 8_192, { endOfLife: true }),
  model("anthropic.claude-3-5-sonnet-20241022-v2:0", "sonnet", ["us", "apac"], 1024, 8_192, { endOfLife: true }),
  model("anthropic.claude-v2:1", "sonnet", [], 1024, 4_096, { onDemand: true, endOfLife: true }),
  model("anthropic.claude-instant-v1", "haiku", [], 1024, 4_096, { onDemand: true, endOfLife: true }),
];

const BY_BASE_ID = new Map(CATALOG.map((m) => [m.baseId, m]));
const GEO_PREFIXES = new Set(["global", "us", "eu", "apac", "jp", "au", "ca", "us-gov"]);

/** Every model ID the emulator answers, in inference-profile form (what the platform should use). */
export function knownProfileIds(): string[] {
  return CATALOG.filter((m) => !m.endOfLife).flatMap((m) => m.geos.map((g) => `${g}.${m.baseId}`));
}

const INVALID_ID = "The provided model identifier is invalid.";

export interface ResolvedModel {
  /** The ID as the client sent it (URL-decoded). */
  requestedId: string;
  info: ModelInfo;
}

/**
 * Resolve the `{modelId}` path segment (already URL-decoded). Throws the BedrockError the service sends.
 * ARNs of foundation models and (system) inference profiles resolve like their IDs.
 */
export function resolveModel(requestedId: string): ResolvedModel {
  let id = requestedId;
  let viaArn: "foundation-model" | "inference-profile" | null = null;
  const arn =
    /^arn:aws(?:-[a-z-]+)?:bedrock:[a-z0-9-]{1,20}:(\d{12})?:(foundation-model|inference-profile)\/(.+)$/.exec(
      requestedId,
    );
  if (arn) {
    viaArn = arn[2] as "foundation-model" | "inference-profile";
    id = arn[3] ?? "";
  }
  const dot = id.indexOf(".");
  const prefix = dot > 0 ? id.slice(0, dot) : "";
  if (viaArn !== "foundation-model" && GEO_PREFIXES.has(prefix)) {
    const info = BY_BASE_ID.get(id.slice(dot + 1));
    if (!info?.geos.includes(prefix)) throw new BedrockError("ValidationException", INVALID_ID);
    if (info.endOfLife) throw endOfLife();
    return { requestedId, info };
  }
  if (viaArn === "inference-profile") throw new BedrockError("ValidationException", INVALID_ID);
  const info = BY_BASE_ID.get(id);
  if (!info) throw new BedrockError("ValidationException", INVALID_ID);
  if (info.endOfLife) throw endOfLife();
  if (!info.onDemand) {
    throw new BedrockError(
      "ValidationException",
      `Invocation of model ID ${info.baseId} with on-demand throughput isn’t supported. Retry your request with the ID or ARN of an inference profile that contains this model.`,
    );
  }
  return { requestedId, info };
}

function endOfLife(): BedrockError {
  return new BedrockError(
    "ResourceNotFoundException",
    "This model version has reached the end of its life. Please refer to the AWS documentation for more details.",
  );
}
