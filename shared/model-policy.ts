// Which Claude tier answers a turn. Cheap, deterministic rules on the caller's words, so the choice is
// explainable (the reason is logged with the turn) and the same on the edge (cost estimates) and the
// media node (the actual call). No model is asked to pick a model: that would cost the latency we save.
import type { AgentRuntimeConfig, ModelPolicy, ModelTier } from "./agent-config.ts";

export interface TurnFeatures {
  /** Extended thinking is on for this turn. */
  thinking: boolean;
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

export function classifyTurn(
  userText: string,
  agent: Pick<AgentRuntimeConfig, "modelPolicy" | "thinkingBudgetTokens">,
  opts: { thinkingThisTurn?: boolean } = {},
): TurnFeatures {
  const text = userText.trim();
  const complexity = complexityOf(text);
  const code = looksLikeCode(text);
  // Thinking costs seconds of silence; unless the session decided for this turn, it is reserved for
  // turns that need it, and only for agents that allow it at all.
  const thinking = opts.thinkingThisTurn ?? (agent.thinkingBudgetTokens > 0 && (complexity === "high" || code));
  return {
    thinking,
    complexity,
    code,
    latencySensitive: agent.modelPolicy.latencySensitive,
    simple: complexity === "low" && !code && !thinking,
  };
}

export function selectModel(
  policy: ModelPolicy,
  features: TurnFeatures,
): { tier: ModelTier; modelIds: string[]; reason: string } {
  const pick = (tier: ModelTier, reason: string) => ({ tier, modelIds: [...policy[tier]], reason });
  // The rules in order; the first that matches wins. A latency-sensitive agent still escalates code
  // and hard turns to Opus: a fast wrong answer costs the caller more than a slower right one.
  if (features.thinking) return pick("opus", "extended thinking");
  if (features.complexity === "high") return pick("opus", "high complexity");
  if (features.code) return pick("opus", "code");
  if (features.latencySensitive) return pick("sonnet", "latency-sensitive agent");
  if (features.simple) return pick("haiku", "simple turn");
  return pick("sonnet", "default");
}
