import { describe, expect, it } from "vitest";
import { AgentRuntimeConfigSchema } from "../../../shared/agent-config.ts";
import { classifyTurn, selectModel, type TurnFeatures } from "../../../shared/model-policy.ts";

const policy = {
  opus: ["opus-a", "opus-b"],
  sonnet: ["sonnet-a", "sonnet-b"],
  haiku: ["haiku-a"],
  latencySensitive: false,
};

function agent(over: { thinkingBudgetTokens?: number; latencySensitive?: boolean } = {}) {
  return AgentRuntimeConfigSchema.parse({
    tenantId: "t",
    agentId: "a",
    version: 1,
    systemPrompt: "You answer phones.",
    modelPolicy: { ...policy, latencySensitive: over.latencySensitive ?? false },
    thinkingBudgetTokens: over.thinkingBudgetTokens ?? 0,
  });
}

const base: TurnFeatures = {
  thinking: false,
  thinkingBudgetTokens: 0,
  complexity: "normal",
  code: false,
  latencySensitive: false,
  simple: false,
};

describe("selectModel rules", () => {
  it.each<[string, Partial<TurnFeatures>, "opus" | "sonnet" | "haiku"]>([
    ["extended thinking", { thinking: true }, "opus"],
    ["extended thinking even for a latency-sensitive agent", { thinking: true, latencySensitive: true }, "opus"],
    ["high complexity", { complexity: "high" }, "opus"],
    ["code", { code: true }, "opus"],
    // The rules apply in order and the first match wins: Opus rules come before latency sensitivity.
    ["latency-sensitive, high complexity", { latencySensitive: true, complexity: "high" }, "opus"],
    ["latency-sensitive, code", { latencySensitive: true, code: true }, "opus"],
    ["latency-sensitive, simple", { latencySensitive: true, simple: true, complexity: "low" }, "sonnet"],
    ["latency-sensitive, plain", { latencySensitive: true }, "sonnet"],
    ["simple", { simple: true, complexity: "low" }, "haiku"],
    ["otherwise", {}, "sonnet"],
  ])("%s → %s", (_label, features, tier) => {
    const choice = selectModel(policy, { ...base, ...features });
    expect(choice.tier).toBe(tier);
    expect(choice.modelIds).toEqual(policy[tier]);
    expect(choice.reason.length).toBeGreaterThan(0);
  });

  it("names the fallback regions with their own profiles for the tier, else the tier's IDs", () => {
    const regional = { ...policy, fallbackRegions: [{ region: "eu-west-1", sonnet: ["eu-sonnet"] }] };
    expect(selectModel(regional, base).fallbackRegions).toEqual([{ region: "eu-west-1", modelIds: ["eu-sonnet"] }]);
    expect(selectModel(regional, { ...base, code: true }).fallbackRegions).toEqual([
      { region: "eu-west-1", modelIds: ["opus-a", "opus-b"] },
    ]);
    expect(selectModel(policy, base).fallbackRegions).toEqual([]);
  });

  it("returns the tier's IDs in policy order as a copy (fallbacks can't corrupt the policy)", () => {
    const choice = selectModel(policy, base);
    choice.modelIds.pop();
    expect(policy.sonnet).toEqual(["sonnet-a", "sonnet-b"]);
  });
});

describe("classifyTurn", () => {
  it.each<[string, Partial<TurnFeatures>]>([
    ["yes", { complexity: "low", simple: true, code: false }],
    ["Thanks, that's all.", { complexity: "low", simple: true }],
    ["What time do you open on Saturday?", { complexity: "low", simple: true }],
    [
      "Can you explain why my bill went up this month compared to last month and what I can do about it?",
      { complexity: "high", simple: false },
    ],
    ["What's the difference between the basic plan and the premium plan?", { complexity: "high" }],
    ["How do I write a Python script to call your API?", { code: true, simple: false }],
    ["My zip code is 94110.", { code: false }],
    ["I have a promo code for ten percent off.", { code: false }],
    [
      "I'd like to book an appointment for next Tuesday afternoon if you have anything.",
      { complexity: "normal", simple: false },
    ],
  ])("%j", (text, expected) => {
    expect(classifyTurn(text, agent())).toMatchObject(expected);
  });

  it("thinks only on hard turns, and only for agents with a thinking budget", () => {
    const hard = "Can you walk me through the pros and cons of refinancing now versus next year?";
    expect(classifyTurn(hard, agent({ thinkingBudgetTokens: 0 })).thinking).toBe(false);
    expect(classifyTurn(hard, agent({ thinkingBudgetTokens: 4096 })).thinking).toBe(true);
    expect(classifyTurn("yes please", agent({ thinkingBudgetTokens: 4096 })).thinking).toBe(false);
  });

  it("lets the session force thinking on or off for a turn", () => {
    expect(classifyTurn("yes", agent(), { thinkingThisTurn: true }).thinking).toBe(true);
    const hard = "Explain why the refund was declined and what the options are now.";
    expect(classifyTurn(hard, agent({ thinkingBudgetTokens: 4096 }), { thinkingThisTurn: false }).thinking).toBe(false);
  });

  it("carries the agent's latency sensitivity into the features", () => {
    expect(classifyTurn("hello", agent({ latencySensitive: true })).latencySensitive).toBe(true);
  });

  it("a latency-sensitive agent still sends code and hard questions to Opus, and plain ones to Sonnet", () => {
    const a = agent({ latencySensitive: true });
    const pick = (text: string) => selectModel(a.modelPolicy, classifyTurn(text, a));
    expect(pick("How do I write a Python script to call your API?")).toMatchObject({ tier: "opus", reason: "code" });
    expect(pick("Compare the two warranty options for me in detail.").tier).toBe("opus");
    expect(pick("ok thanks").tier).toBe("sonnet");
    expect(pick("I need to change my delivery address for the order please").tier).toBe("sonnet");
  });

  it("end to end: a caller's words pick the tier", () => {
    const a = agent({ thinkingBudgetTokens: 2048 });
    expect(selectModel(a.modelPolicy, classifyTurn("ok thanks", a)).tier).toBe("haiku");
    expect(
      selectModel(a.modelPolicy, classifyTurn("I need to change my delivery address for the order please", a)).tier,
    ).toBe("sonnet");
    expect(selectModel(a.modelPolicy, classifyTurn("Compare the two warranty options for me in detail.", a)).tier).toBe(
      "opus",
    );
  });
});
