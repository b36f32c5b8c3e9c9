import { FakeLlm, type FakeLlmTurn } from "../../../../media-nodes/src/providers/fake/index.ts";
import type { LlmEvent, LlmRequest } from "../../../../media-nodes/src/providers/types.ts";
import { runLlmBehaviour } from "./llm.behaviour.ts";

const usage: LlmEvent = {
  type: "usage",
  usage: { inputTokens: 120, outputTokens: 14, cacheReadInputTokens: 0, cacheWriteInputTokens: 0 },
};
const hasToolResult = (req: LlmRequest) => req.messages.some((m) => m.content.some((c) => c.type === "tool-result"));
const answerFromResult: FakeLlmTurn = (req) =>
  hasToolResult(req) ? [...FakeLlm.say("Your order shipped and arrives Friday."), usage] : [];

const scripts: Record<string, FakeLlmTurn[]> = {
  answer: [[...FakeLlm.say("Yes, this is Acme Supplies. How can I help?"), usage]],
  abort: [[...FakeLlm.say("Yes, this is Acme Supplies. How can I help?"), usage]],
  "order-tool": [
    [
      { type: "tool-use", id: "tu_1", name: "lookup_order", input: { orderNumber: "48213" } },
      { type: "stop", reason: "tool_use" },
      usage,
    ],
    answerFromResult,
  ],
  "two-tools": [
    [
      { type: "tool-use", id: "tu_1", name: "lookup_order", input: { orderNumber: "48213" } },
      { type: "tool-use", id: "tu_2", name: "get_business_hours", input: { day: "Saturday" } },
      { type: "stop", reason: "tool_use" },
      usage,
    ],
  ],
  "thinking-tool": [
    [
      { type: "thinking", text: "The caller wants order 48213; " },
      { type: "thinking", text: "look it up." },
      {
        type: "thinking-block",
        block: { type: "thinking", text: "The caller wants order 48213; look it up.", signature: "sig" },
      },
      { type: "tool-use", id: "tu_1", name: "lookup_order", input: { orderNumber: "48213" } },
      { type: "stop", reason: "tool_use" },
      usage,
    ],
    answerFromResult,
  ],
};

runLlmBehaviour("fake", async (scenario) => new FakeLlm(scripts[scenario] ?? []), "fake-model");
