// The agent's static prefix goes to Bedrock byte-identical with cache points after the system prompt and
// after the tools, so every turn of every call after the first reads it from the prompt cache.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BedrockEmulator, startBedrockEmulator } from "../../../../emulators/bedrock/index.ts";
import { bedrockLlm, CALL_CONNECTED_NOTE } from "../../../../media-nodes/src/providers/bedrock/llm.ts";
import type { LlmEvent, LlmUsage } from "../../../../media-nodes/src/providers/types.ts";
import { collect, TOOLS, user } from "./llm.behaviour.ts";

let emulator: BedrockEmulator;
beforeAll(async () => {
  emulator = await startBedrockEmulator({ port: 0, profile: "instant" });
});
afterAll(() => emulator.close());

const MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
// Long enough to pass the model's minimum cacheable prefix.
const SYSTEM = Array.from(
  { length: 120 },
  (_, i) => `Rule ${i + 1}: be brief, be kind, confirm order numbers digit by digit, never guess delivery dates.`,
).join("\n");

const usageOf = (events: LlmEvent[]): LlmUsage => {
  const u = events.find((e) => e.type === "usage");
  if (u?.type !== "usage") throw new Error("no usage");
  return u.usage;
};

describe("bedrockLlm prompt caching", () => {
  it("writes the prefix on the first call and reads it on later calls with different conversations", async () => {
    const llm = bedrockLlm({
      region: "us-east-1",
      endpoint: emulator.url,
      credentials: { accessKeyId: "a", secretAccessKey: "b" },
    });
    const base = { modelId: MODEL, system: SYSTEM, tools: TOOLS, maxTokens: 256 };
    const first = usageOf(
      await collect(llm.stream({ ...base, messages: [user("Hello, is this Acme?")], metadata: { callId: "CA1" } })),
    );
    const second = usageOf(
      await collect(
        llm.stream({
          ...base,
          messages: [user("What are your opening hours on Saturday?")],
          metadata: { callId: "CA2" },
        }),
      ),
    );
    expect(first.cacheWriteInputTokens).toBeGreaterThan(1_000);
    expect(first.cacheReadInputTokens).toBe(0);
    expect(second.cacheReadInputTokens).toBe(first.cacheWriteInputTokens);
    expect(second.cacheWriteInputTokens).toBe(0);

    const [a, b] = emulator.requests().slice(-2) as { body: Record<string, unknown> }[];
    // The bytes before the cache points are identical across calls; only messages differ.
    expect(JSON.stringify(a!.body.system)).toBe(JSON.stringify(b!.body.system));
    expect(JSON.stringify(a!.body.toolConfig)).toBe(JSON.stringify(b!.body.toolConfig));
    expect(a!.body.system).toEqual([{ text: SYSTEM }, { cachePoint: { type: "default" } }]);
    const tools = (a!.body.toolConfig as { tools: unknown[] }).tools;
    expect(tools.at(-1)).toEqual({ cachePoint: { type: "default" } });
    expect(tools).toHaveLength(TOOLS.length + 1);
    // Per-call data rides in requestMetadata, never in the prefix.
    expect(a!.body.requestMetadata).toEqual({ callId: "CA1" });
  });

  it("sends a valid thinking request: budget below maxTokens, no temperature", async () => {
    const llm = bedrockLlm({
      region: "us-east-1",
      endpoint: emulator.url,
      credentials: { accessKeyId: "a", secretAccessKey: "b" },
    });
    await collect(
      llm.stream({
        modelId: MODEL,
        system: "Be brief.",
        tools: [],
        messages: [user("Compare your two plans.")],
        maxTokens: 1_024,
        temperature: 0.3,
        thinkingBudgetTokens: 100_000,
      }),
    );
    const body = emulator.requests().at(-1)!.body as {
      inferenceConfig: { maxTokens: number; temperature?: number };
      additionalModelRequestFields: { thinking: { type: string; budget_tokens: number } };
    };
    const budget = body.additionalModelRequestFields.thinking.budget_tokens;
    expect(body.additionalModelRequestFields.thinking.type).toBe("enabled");
    expect(budget).toBeLessThanOrEqual(64_000);
    expect(budget).toBeGreaterThanOrEqual(1_024);
    expect(body.inferenceConfig.maxTokens).toBeGreaterThan(budget);
    expect(body.inferenceConfig.temperature).toBeUndefined();
  });

  it("accepts a conversation the agent opened, and turns cut short by barge-in", async () => {
    const llm = bedrockLlm({
      region: "us-east-1",
      endpoint: emulator.url,
      credentials: { accessKeyId: "a", secretAccessKey: "b" },
    });
    const events = await collect(
      llm.stream({
        modelId: MODEL,
        system: "Be brief.",
        tools: [],
        maxTokens: 256,
        messages: [
          { role: "assistant", content: [{ type: "text", text: "Thanks for calling Acme, how can I help?" }] },
          user("Hi."),
          // Barge-in before a word was heard leaves an empty assistant turn.
          { role: "assistant", content: [{ type: "text", text: "" }] },
          user("Is this Acme?"),
        ],
      }),
    );
    expect(events.some((e) => e.type === "text")).toBe(true);
    const sent = (emulator.requests().at(-1)!.body as { messages: { role: string; content: { text?: string }[] }[] })
      .messages;
    expect(sent.map((m) => m.role)).toEqual(["user", "assistant", "user"]);
    expect(sent[0]!.content[0]!.text).toBe(CALL_CONNECTED_NOTE);
    expect(sent[2]!.content.map((c) => c.text)).toEqual(["Hi.", "Is this Acme?"]);
  });
});
