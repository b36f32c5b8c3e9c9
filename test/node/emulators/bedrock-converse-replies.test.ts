// What a caller's turn gets back from the emulated Claude through the unmodified SDK (default HTTP/2
// handler): spoken text, tool calls and answers from tool results, thinking, limits, scripts.
import { ConverseCommand, type Message } from "@aws-sdk/client-bedrock-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BedrockEmulator, startBedrockEmulator } from "../../../emulators/bedrock/index.ts";
import {
  assistantMessage,
  eventNames,
  HAIKU,
  PHONE_TOOLS,
  SONNET,
  sdkClient,
  streamAll,
  streamedText,
  toolUses,
  userText,
} from "./bedrock-client.ts";

let emulator: BedrockEmulator;
let client: ReturnType<typeof sdkClient>;
beforeAll(async () => {
  emulator = await startBedrockEmulator({ port: 0, profile: "instant" });
  client = sdkClient(emulator.url);
});
afterAll(async () => {
  client.destroy();
  await emulator.close();
});

function sentences(text: string): string[] {
  return text.split(/(?<=[.!?])\s+/).filter(Boolean);
}

describe("ConverseStream replies", () => {
  it("answers small talk with a few spoken sentences framed by start, stop and usage events", async () => {
    const { events } = await streamAll(client, {
      modelId: SONNET,
      messages: [userText("Can you tell me about your pricing for teeth whitening?")],
    });
    const names = eventNames(events);
    expect(names[0]).toBe("messageStart");
    expect(events[0]?.messageStart?.role).toBe("assistant");
    expect(names.slice(-3)).toEqual(["contentBlockStop", "messageStop", "metadata"]);
    expect(names.filter((n) => n === "contentBlockDelta").length).toBeGreaterThan(3);

    const text = streamedText(events);
    expect(text).toMatch(/teeth whitening/);
    expect(sentences(text).length).toBeGreaterThanOrEqual(2);
    expect(sentences(text).length).toBeLessThanOrEqual(3);

    expect(events.find((e) => e.messageStop)?.messageStop?.stopReason).toBe("end_turn");
    const meta = events.find((e) => e.metadata)?.metadata;
    const usage = meta?.usage;
    expect(usage?.inputTokens).toBeGreaterThan(0);
    expect(usage?.outputTokens).toBeGreaterThan(0);
    expect(usage?.totalTokens).toBe((usage?.inputTokens ?? 0) + (usage?.outputTokens ?? 0));
    expect(typeof meta?.metrics?.latencyMs).toBe("number");
  });

  it("looks up an order with lookup_order, then answers from the tool's result", async () => {
    const history: Message[] = [userText("Hi, where is my order 48213?")];
    const first = await streamAll(client, { modelId: SONNET, messages: history, toolConfig: { tools: PHONE_TOOLS } });
    const start = first.events.find((e) => e.contentBlockStart)?.contentBlockStart;
    expect(start?.start?.toolUse?.name).toBe("lookup_order");
    expect(start?.start?.toolUse?.toolUseId).toMatch(/^tooluse_/);
    expect(first.events.find((e) => e.messageStop)?.messageStop?.stopReason).toBe("tool_use");
    const asked = assistantMessage(first.events);
    const [call] = toolUses(asked);
    expect(call?.input).toEqual({ order_id: "48213" });

    history.push(asked, {
      role: "user",
      content: [
        {
          toolResult: {
            toolUseId: call?.toolUseId,
            status: "success",
            content: [{ json: { status: "shipped", carrier: "UPS", eta: "Thursday" } }],
          },
        },
      ],
    });
    const second = await streamAll(client, { modelId: SONNET, messages: history, toolConfig: { tools: PHONE_TOOLS } });
    const answer = streamedText(second.events);
    expect(answer).toMatch(/48213/);
    expect(answer).toMatch(/shipped/);
    expect(answer).toMatch(/UPS/);
    expect(answer).toMatch(/Thursday/);
    expect(second.events.find((e) => e.messageStop)?.messageStop?.stopReason).toBe("end_turn");
  });

  it("asks for two tools in one message when the caller asks two things at once", async () => {
    const history: Message[] = [userText("Where is my order 48213 and when are you open on Saturday?")];
    const first = await streamAll(client, { modelId: SONNET, messages: history, toolConfig: { tools: PHONE_TOOLS } });
    const asked = assistantMessage(first.events);
    const calls = toolUses(asked);
    expect(calls.map((c) => c.name)).toEqual(["lookup_order", "get_business_hours"]);
    expect(new Set(calls.map((c) => c.toolUseId)).size).toBe(2);
    expect(calls[1]?.input).toEqual({ day: "Saturday" });

    history.push(asked, {
      role: "user",
      content: [
        { toolResult: { toolUseId: calls[0]?.toolUseId, content: [{ json: { status: "out for delivery" } }] } },
        { toolResult: { toolUseId: calls[1]?.toolUseId, content: [{ json: { saturday: "9 AM to 1 PM" } }] } },
      ],
    });
    const second = await streamAll(client, { modelId: SONNET, messages: history, toolConfig: { tools: PHONE_TOOLS } });
    const answer = streamedText(second.events);
    expect(answer).toMatch(/out for delivery/);
    expect(answer).toMatch(/9 AM to 1 PM/);
  });

  it("books, transfers and says goodbye with the tools on offer, and only speaks when none fit", async () => {
    const call = async (text: string, tools = PHONE_TOOLS) => {
      const { events } = await streamAll(client, {
        modelId: SONNET,
        messages: [userText(text)],
        ...(tools.length ? { toolConfig: { tools } } : {}),
      });
      const message = assistantMessage(events);
      return {
        calls: toolUses(message),
        text: streamedText(events),
        stop: events.find((e) => e.messageStop)?.messageStop?.stopReason,
      };
    };
    const booking = await call("I'd like to book an appointment on Friday at 10am please.");
    expect(booking.calls).toEqual([
      expect.objectContaining({ name: "book_appointment", input: { day: "Friday", time: "10:00 AM" } }),
    ]);
    const transfer = await call("Can I talk to a human?");
    expect(transfer.calls.map((c) => c.name)).toEqual(["transfer_call"]);
    const bye = await call("No, that's all. Bye!");
    expect(bye.text).toMatch(/goodbye/i);
    expect(bye.calls.map((c) => c.name)).toEqual(["end_call"]);

    const byeWithoutTools = await call("No, that's all. Bye!", []);
    expect(byeWithoutTools.calls).toEqual([]);
    expect(byeWithoutTools.stop).toBe("end_turn");
    const missingDetails = await call("I need to book an appointment.");
    expect(missingDetails.calls).toEqual([]);
    expect(missingDetails.text).toMatch(/day and time/);
  });

  it("streams reasoning (text, then signature) as block 0 before the spoken text when thinking is on", async () => {
    const { events } = await streamAll(client, {
      modelId: SONNET,
      messages: [userText("Do you take walk-ins?")],
      inferenceConfig: { maxTokens: 4000 },
      additionalModelRequestFields: { thinking: { type: "enabled", budget_tokens: 2048 } },
    });
    const deltas = events.flatMap((e) => (e.contentBlockDelta ? [e.contentBlockDelta] : []));
    const reasoning = deltas.filter((d) => d.delta?.reasoningContent);
    expect(reasoning.length).toBeGreaterThan(1);
    expect(reasoning.every((d) => d.contentBlockIndex === 0)).toBe(true);
    expect(reasoning.at(-1)?.delta?.reasoningContent?.signature).toBeTruthy();
    expect(reasoning.slice(0, -1).every((d) => d.delta?.reasoningContent?.text)).toBe(true);
    const firstText = deltas.findIndex((d) => d.delta?.text !== undefined);
    const lastReasoning = deltas.findLastIndex((d) => d.delta?.reasoningContent !== undefined);
    expect(firstText).toBeGreaterThan(lastReasoning);
    expect(deltas[firstText]?.contentBlockIndex).toBe(1);
  });

  it("stops with max_tokens and a shorter reply when maxTokens is small", async () => {
    const question = [userText("Can you tell me about your pricing for teeth whitening?")];
    const full = await streamAll(client, { modelId: SONNET, messages: question });
    const cut = await streamAll(client, { modelId: SONNET, messages: question, inferenceConfig: { maxTokens: 5 } });
    expect(cut.events.find((e) => e.messageStop)?.messageStop?.stopReason).toBe("max_tokens");
    expect(streamedText(cut.events).length).toBeGreaterThan(0);
    expect(streamedText(cut.events).length).toBeLessThan(streamedText(full.events).length);
    expect(cut.events.find((e) => e.metadata)?.metadata?.usage?.outputTokens).toBeLessThanOrEqual(5);
  });

  it("cuts the reply at a stop sequence", async () => {
    const { events } = await streamAll(client, {
      modelId: SONNET,
      messages: [userText("Can you tell me about your pricing for teeth whitening?")],
      inferenceConfig: { stopSequences: ["."] },
    });
    expect(events.find((e) => e.messageStop)?.messageStop?.stopReason).toBe("stop_sequence");
    expect(streamedText(events)).not.toContain(".");
  });
});

describe("Converse (whole message)", () => {
  it("returns the same kind of content in one response: text, tool use, stop reason and usage", async () => {
    const out = await client.send(
      new ConverseCommand({
        modelId: HAIKU,
        messages: [userText("Where is my order 48213?")],
        toolConfig: { tools: PHONE_TOOLS },
      }),
    );
    expect(out.stopReason).toBe("tool_use");
    const content = out.output?.message?.content ?? [];
    expect(content[0]?.text).toMatch(/48213/);
    expect(content[1]?.toolUse).toEqual(
      expect.objectContaining({ name: "lookup_order", input: { order_id: "48213" } }),
    );
    expect(out.usage?.outputTokens).toBeGreaterThan(0);
    expect(out.metrics?.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it("returns thinking as a reasoningContent block with its signature", async () => {
    const out = await client.send(
      new ConverseCommand({
        modelId: SONNET,
        messages: [userText("Is parking available?")],
        inferenceConfig: { maxTokens: 3000 },
        additionalModelRequestFields: { thinking: { type: "enabled", budget_tokens: 1024 } },
      }),
    );
    const [thinking, text] = out.output?.message?.content ?? [];
    expect(thinking?.reasoningContent?.reasoningText?.text).toMatch(/parking/i);
    expect(thinking?.reasoningContent?.reasoningText?.signature).toBeTruthy();
    expect(text?.text).toMatch(/parking/i);
  });
});

describe("scripts and transports", () => {
  it("plays a tag's scripted replies in order, then hands back to the policy", async () => {
    emulator.setScript("call-42", [
      { text: "Thanks for calling Acme. This line is recorded." },
      { toolUses: [{ name: "lookup_order", input: { order_id: "777" } }], thinking: "Check the order." },
    ]);
    const ask = (text: string) =>
      streamAll(client, {
        modelId: SONNET,
        messages: [userText(text)],
        toolConfig: { tools: PHONE_TOOLS },
        requestMetadata: { scriptTag: "call-42" },
      });
    const first = await ask("Hello?");
    expect(streamedText(first.events)).toBe("Thanks for calling Acme. This line is recorded.");
    const second = await ask("Hello again?");
    const message = assistantMessage(second.events);
    expect(message.content?.[0]?.reasoningContent?.reasoningText?.text).toBe("Check the order.");
    expect(toolUses(message)).toEqual([expect.objectContaining({ name: "lookup_order", input: { order_id: "777" } })]);
    expect(second.events.find((e) => e.messageStop)?.messageStop?.stopReason).toBe("tool_use");
    const third = await ask("Can you tell me about parking?");
    expect(streamedText(third.events)).toMatch(/parking/);

    const tagged = emulator.requests().filter((r) => r.scriptTag === "call-42");
    expect(tagged.map((r) => r.source)).toEqual(["script", "script", "policy"]);
  });

  it("also serves clients that use HTTP/1.1 (NodeHttpHandler)", async () => {
    const http1 = sdkClient(emulator.url, { requestHandler: new NodeHttpHandler() });
    try {
      const { events } = await streamAll(http1, { modelId: SONNET, messages: [userText("Hello there")] });
      expect(streamedText(events)).toMatch(/help/);
      expect(eventNames(events).at(-1)).toBe("metadata");
    } finally {
      http1.destroy();
    }
  });
});
