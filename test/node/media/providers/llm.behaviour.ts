// What every LlmProvider must do for the voice loop: stream text, ask for tools with parsed input
// (several at once when the caller asks several things), keep reasoning out of the spoken text while
// handing back the block a tool loop must return, finish with stop then usage, and stop on abort.
// Run against the fake (scripted to the same scenarios) and bedrockLlm on the Bedrock emulator.
import { describe, expect, it } from "vitest";
import {
  type ChatContent,
  type ChatMessage,
  LlmError,
  type LlmEvent,
  type LlmProvider,
  type LlmRequest,
} from "../../../../media-nodes/src/providers/types.ts";

export type LlmScenario = "answer" | "order-tool" | "two-tools" | "thinking-tool" | "abort";

export const TOOLS = [
  {
    name: "lookup_order",
    description: "Look up an order by its number.",
    inputSchema: {
      type: "object",
      properties: { orderNumber: { type: "string", description: "The order number." } },
      required: ["orderNumber"],
    },
  },
  {
    name: "get_business_hours",
    description: "Opening hours for a day of the week.",
    inputSchema: { type: "object", properties: { day: { type: "string" } } },
  },
];

export const SYSTEM = "You are the phone agent of Acme Supplies. Keep answers to one or two short spoken sentences.";

export const user = (text: string): ChatMessage => ({ role: "user", content: [{ type: "text", text }] });

export async function collect(stream: AsyncIterable<LlmEvent>): Promise<LlmEvent[]> {
  const out: LlmEvent[] = [];
  for await (const e of stream) out.push(e);
  return out;
}

const textOf = (events: LlmEvent[]) =>
  events
    .flatMap((e) => (e.type === "text" ? [e.text] : []))
    .join("")
    .trim();

/** The assistant message the conversation keeps for a streamed turn: what the pipeline builds. */
export function assistantMessage(events: LlmEvent[]): ChatMessage {
  const content: ChatContent[] = [];
  const text = textOf(events);
  for (const e of events) if (e.type === "thinking-block") content.push(e.block);
  if (text) content.push({ type: "text", text });
  for (const e of events)
    if (e.type === "tool-use") content.push({ type: "tool-use", id: e.id, name: e.name, input: e.input });
  return { role: "assistant", content };
}

function expectStopThenUsageLast(events: LlmEvent[], reason: string): void {
  const stop = events.findIndex((e) => e.type === "stop");
  expect(events[stop]).toEqual({ type: "stop", reason });
  const last = events.at(-1);
  expect(last?.type).toBe("usage");
  expect(stop).toBe(events.length - 2);
}

export function runLlmBehaviour(
  name: string,
  makeProvider: (scenario: LlmScenario) => Promise<LlmProvider>,
  modelId: string,
): void {
  const request = (messages: ChatMessage[], extra: Partial<LlmRequest> = {}): LlmRequest => ({
    modelId,
    system: SYSTEM,
    tools: TOOLS,
    messages,
    maxTokens: 512,
    ...extra,
  });

  describe(`LlmProvider behaviour: ${name}`, () => {
    it("streams a spoken answer in pieces, then stop, then usage", async () => {
      const llm = await makeProvider("answer");
      const events = await collect(llm.stream(request([user("Hello, is this Acme Supplies?")])));
      expect(events.filter((e) => e.type === "text").length).toBeGreaterThan(1);
      expect(textOf(events).length).toBeGreaterThan(5);
      expect(events.some((e) => e.type === "tool-use")).toBe(false);
      expectStopThenUsageLast(events, "end_turn");
      const usage = events.at(-1);
      if (usage?.type === "usage") expect(usage.usage.outputTokens).toBeGreaterThan(0);
    });

    it("reports usage with the model that answered and whether the request was speculative", async () => {
      const llm = await makeProvider("answer");
      const plain = (await collect(llm.stream(request([user("Hello, is this Acme Supplies?")])))).at(-1);
      expect(plain).toMatchObject({ type: "usage", modelId, speculative: false });
      const early = await makeProvider("answer");
      const speculative = (
        await collect(early.stream(request([user("Hello, is this Acme Supplies?")], { speculative: true })))
      ).at(-1);
      // Metered apart from the answered turn's tokens (cost per call), whether or not its reply is used.
      expect(speculative).toMatchObject({ type: "usage", modelId, speculative: true });
    });

    it("asks for the order tool with the caller's number as parsed input, and answers from its result", async () => {
      const llm = await makeProvider("order-tool");
      const history = [user("Can you tell me where my order 48213 is?")];
      const first = await collect(llm.stream(request(history)));
      const uses = first.filter((e) => e.type === "tool-use");
      expect(uses).toHaveLength(1);
      const use = uses[0]!;
      if (use.type !== "tool-use") throw new Error("unreachable");
      expect(use.name).toBe("lookup_order");
      expect(use.id.length).toBeGreaterThan(0);
      expect(typeof use.input).toBe("object");
      expect(JSON.stringify(use.input)).toContain("48213");
      // Announced before its input is complete, so the caller's acknowledgement can start at once.
      const announced = first.findIndex((e) => e.type === "tool-use-start");
      expect(first[announced]).toEqual({ type: "tool-use-start", id: use.id, name: "lookup_order" });
      expect(announced).toBeLessThan(first.indexOf(use));
      expectStopThenUsageLast(first, "tool_use");

      const second = await collect(
        llm.stream(
          request([
            ...history,
            assistantMessage(first),
            {
              role: "user",
              content: [{ type: "tool-result", toolUseId: use.id, content: { status: "shipped", eta: "Friday" } }],
            },
          ]),
        ),
      );
      expect(textOf(second)).toMatch(/friday/i);
      expectStopThenUsageLast(second, "end_turn");
    });

    it("asks for two tools in one turn when the caller asks two things", async () => {
      const llm = await makeProvider("two-tools");
      const events = await collect(
        llm.stream(request([user("Where is my order 48213, and what are your opening hours on Saturday?")])),
      );
      const uses = events.filter((e) => e.type === "tool-use");
      expect(uses.map((u) => (u.type === "tool-use" ? u.name : "")).sort()).toEqual([
        "get_business_hours",
        "lookup_order",
      ]);
      const ids = uses.map((u) => (u.type === "tool-use" ? u.id : ""));
      expect(new Set(ids).size).toBe(2);
    });

    it("keeps reasoning out of the spoken text and returns the signed block a tool loop sends back", async () => {
      const llm = await makeProvider("thinking-tool");
      const history = [user("Where is my order 48213?")];
      // maxTokens below the budget: the provider must make the pair valid on its own.
      const first = await collect(llm.stream(request(history, { thinkingBudgetTokens: 2_048, maxTokens: 512 })));
      const thinking = first.filter((e) => e.type === "thinking");
      expect(thinking.length).toBeGreaterThan(0);
      const firstThinking = first.findIndex((e) => e.type === "thinking");
      const firstAnswer = first.findIndex((e) => e.type === "text" || e.type === "tool-use");
      expect(firstThinking).toBeLessThan(firstAnswer);
      const block = first.find((e) => e.type === "thinking-block");
      if (block?.type !== "thinking-block") throw new Error("no thinking block");
      expect(block.block.text).toBe(thinking.map((e) => (e.type === "thinking" ? e.text : "")).join(""));
      expect(block.block.signature?.length ?? 0).toBeGreaterThan(0);
      const reasoning = block.block.text.trim();
      if (reasoning.length > 0) expect(textOf(first)).not.toContain(reasoning);

      const use = first.find((e) => e.type === "tool-use");
      if (use?.type !== "tool-use") throw new Error("no tool use");
      const second = await collect(
        llm.stream(
          request(
            [
              ...history,
              assistantMessage(first),
              {
                role: "user",
                content: [{ type: "tool-result", toolUseId: use.id, content: { status: "shipped", eta: "Friday" } }],
              },
            ],
            { thinkingBudgetTokens: 2_048, maxTokens: 512 },
          ),
        ),
      );
      expect(textOf(second)).toMatch(/friday/i);
    });

    it("stops streaming and throws an aborted LlmError when the turn is aborted (barge-in)", async () => {
      const llm = await makeProvider("abort");
      const controller = new AbortController();
      const seen: LlmEvent[] = [];
      const run = async () => {
        for await (const e of llm.stream(
          request([user("Hello, is this Acme Supplies?")], { signal: controller.signal }),
        )) {
          seen.push(e);
          if (e.type === "text") controller.abort();
        }
      };
      const error = await run().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(LlmError);
      expect((error as LlmError).kind).toBe("aborted");
      expect(seen.filter((e) => e.type === "text")).toHaveLength(1);
      expect(seen.some((e) => e.type === "stop")).toBe(false);
    });
  });
}
