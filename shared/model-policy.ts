// Which Claude tier answers a turn. Cheap, deterministic rules on the caller's words, so the choice is
// explainable (the reason is logged with the turn) and the same on the edge (cost estimates) and the
// media node (the actual call). No model is asked to pick a model: that would cost the latency we save.
import type { AgentRuntimeConfig, ModelPolicy, ModelTier } from "./agent-config.ts";

/** Bedrock's bounds on an extended-thinking budget. */
export const THINKING_MIN_TOKENS = 1_024;
export const THINKING_MAX_TOKENS = 64_000;
/** What a turn that is hard on one count (high complexity, or code) may think for, at most. */
const ONE_COUNT_BUDGET_TOKENS = 8_192;

export interface TurnFeatures {
  /** Extended thinking is on for this turn. */
  thinking: boolean;
  /**
   * This turn's thinking budget (0 when it does not think): the agent's budget is the ceiling, and the
   * turn takes what its difficulty warrants, within 1,024..64,000.
   */
  thinkingBudgetTokens: number;
  complexity: "low" | "normal" | "high";
  /** The caller asks about program code, queries or formats. */
  code: boolean;
  /** The agent's policy marks it latency-sensitive: turns no Opus rule claims go to Sonnet. */
  latencySensitive: boolean;
  /** A short, plain utterance: greeting, yes/no, thanks, a single short question. */
  simple: boolean;
}

/** Words that mean "code" on a phone call without being about software. */
const NON_SOFTWARE_CODE =
  /\b(zip|postal|post|promo|promotional|discount|coupon|area|country|confirmation|access|verification|security|booking|tracking|reference|pin|dress|bar|qr|gift|voucher|door|gate|alarm|activation|redemption|referral|sort|swift|billing|error)\s+codes?\b/gi;

const CODE_PATTERNS: RegExp[] = [
  /```|`[^`]+`/,
  /\b(python|javascript|typescript|java|kotlin|golang|rust|ruby|php|c\+\+|c#|sql|regex|regular expression|bash|shell script|powershell|html|css|json|yaml|xml)\b/i,
  /\b(function|variable|compile|compiler|stack trace|exception|syntax|api endpoint|source code|debug|git|repository|script)\b/i,
  /\bselect\s+.+\s+from\s+\w+/i,
  /\bcode\b/i,
];

const COMPLEX_MARKERS =
  /\b(explain (why|how)|why (does|do|is|are|did|would)|compare|comparison|difference between|pros and cons|trade-?offs?|analy[sz]e|calculate|estimate|step by step|walk me through|figure out|troubleshoot|diagnose|recommend|what would you suggest|plan (a|my|the)|strategy|in detail|break (it|this) down|what if)\b/i;

function wordCount(text: string): number {
  return text.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w)).length;
}

function looksLikeCode(text: string): boolean {
  const withoutEverydayCodes = text.replace(NON_SOFTWARE_CODE, " ");
  return CODE_PATTERNS.some((re) => re.test(withoutEverydayCodes));
}

function complexityOf(text: string): TurnFeatures["complexity"] {
  const words = wordCount(text);
  const questions = (text.match(/\?/g) ?? []).length;
  if (COMPLEX_MARKERS.test(text) || words > 40 || questions >= 3) return "high";
  if (words <= 8 && questions <= 1) return "low";
  return "normal";
}

/**
 * A turn's thinking budget. Every thinking token is silence on the line (the caller hears only the
 * acknowledgement), so a turn gets what its difficulty warrants, never more than the agent allows:
 * hard on both counts (high complexity and code) → the agent's whole budget; on one count → up to
 * 8,192; a turn thinking for another reason (the session asked) → the minimum.
 */
export function thinkingBudgetFor(
  features: Pick<TurnFeatures, "complexity" | "code">,
  agentBudgetTokens: number,
  requestedTokens?: number,
): number {
  const ceiling = Math.min(THINKING_MAX_TOKENS, Math.max(THINKING_MIN_TOKENS, agentBudgetTokens));
  const hard = (features.complexity === "high" ? 1 : 0) + (features.code ? 1 : 0);
  const wanted = requestedTokens ?? (hard >= 2 ? ceiling : hard === 1 ? ONE_COUNT_BUDGET_TOKENS : THINKING_MIN_TOKENS);
  return Math.min(ceiling, Math.max(THINKING_MIN_TOKENS, Math.round(wanted)));
}

export function classifyTurn(
  userText: string,
  agent: Pick<AgentRuntimeConfig, "modelPolicy" | "thinkingBudgetTokens">,
  opts: {
    /** The session's decision for this turn, over the classifier's. */
    thinkingThisTurn?: boolean;
    /** A budget for this turn, clamped to 1,024..64,000 and to the agent's budget (when it has one). */
    thinkingBudgetTokens?: number;
  } = {},
): TurnFeatures {
  const text = userText.trim();
  const complexity = complexityOf(text);
  const code = looksLikeCode(text);
  // Thinking costs seconds of silence; unless the session decided for this turn, it is reserved for
  // turns that need it, and only for agents that allow it at all.
  const thinking = opts.thinkingThisTurn ?? (agent.thinkingBudgetTokens > 0 && (complexity === "high" || code));
  const ceiling = agent.thinkingBudgetTokens > 0 ? agent.thinkingBudgetTokens : THINKING_MAX_TOKENS;
  return {
    thinking,
    thinkingBudgetTokens: thinking ? thinkingBudgetFor({ complexity, code }, ceiling, opts.thinkingBudgetTokens) : 0,
    complexity,
    code,
    latencySensitive: agent.modelPolicy.latencySensitive,
    simple: complexity === "low" && !code && !thinking,
  };
}

/** Where to ask when the node's own region fails: a region and the model IDs to try there. */
export interface RegionRoute {
  region: string;
  modelIds: string[];
}

export function selectModel(
  policy: ModelPolicy,
  features: TurnFeatures,
): { tier: ModelTier; modelIds: string[]; fallbackRegions: RegionRoute[]; reason: string } {
  const pick = (tier: ModelTier, reason: string) => ({
    tier,
    modelIds: [...policy[tier]],
    fallbackRegions: (policy.fallbackRegions ?? []).map((r) => ({
      region: r.region,
      modelIds: [...(r[tier] ?? policy[tier])],
    })),
    reason,
  });
  // The rules in order; the first that matches wins. A latency-sensitive agent still escalates code
  // and hard turns to Opus: a fast wrong answer costs the caller more than a slower right one.
  if (features.thinking) return pick("opus", "extended thinking");
  if (features.complexity === "high") return pick("opus", "high complexity");
  if (features.code) return pick("opus", "code");
  if (features.latencySensitive) return pick("sonnet", "latency-sensitive agent");
  if (features.simple) return pick("haiku", "simple turn");
  return pick("sonnet", "default");
}
