// A turn that needs a tool: the caller hears the pre-synthesized acknowledgement the moment the model
// starts the tool call (its toolUse block opens), not once the call's input has finished streaming, and
// hears it once. When the model says something of its own before the tool, that is the acknowledgement.
import { afterEach, expect, test } from "vitest";
import { FakeLlm, FakeStt } from "../../../media-nodes/src/providers/fake/index.ts";
import type { LlmEvent } from "../../../media-nodes/src/providers/types.ts";
import { type Harness, sleep, startHarness, until } from "./support/harness.ts";
import { TwilioTestClient } from "./support/twilio-client.ts";

let h: Harness | undefined;
afterEach(async () => h?.close());

const ORDER_TOOL = {
  name: "lookup_order",
  description: "Look up an order.",
  inputSchema: { type: "object", properties: { orderId: { type: "string" } } },
  webhook: { url: "https://tenant.example/order", timeoutMs: 3_000 },
};

const okRunner = () => ({
  async run(calls: { id: string; name: string }[]) {
    return {
      outcomes: calls.map((c) => ({ id: c.id, name: c.name, ok: true, result: { status: "shipped" }, ms: 1 })),
      actions: [],
    };
  },
});

async function placeCall(harness: Harness): Promise<TwilioTestClient> {
  const caller = await TwilioTestClient.connect(harness.wsUrl());
  caller.start(await harness.token());
  await until(() => harness.stt.current !== undefined, "the call to start");
  await until(() => harness.tts.synthesized.length >= 4, "pre-synthesis");
  return caller;
}

const ackMarks = (caller: TwilioTestClient) => caller.events("mark").filter((m) => m.name?.includes("acknowledgement"));

test("the acknowledgement leaves within 100 ms of the model opening a tool call, and plays once", async () => {
  let toolStartAt = Number.NaN;
  // The model opens one tool call, then takes most of a second to stream its input, then opens another.
  async function* slowToolCalls(): AsyncIterable<LlmEvent> {
    toolStartAt = performance.now();
    yield { type: "tool-use-start", id: "tu_1", name: "lookup_order" };
    await sleep(800);
    yield { type: "tool-use", id: "tu_1", name: "lookup_order", input: { orderId: "48213" } };
    yield { type: "tool-use-start", id: "tu_2", name: "lookup_order" };
    yield { type: "tool-use", id: "tu_2", name: "lookup_order", input: { orderId: "48214" } };
  }
  h = await startHarness({
    agent: { tools: [ORDER_TOOL], acknowledgement: "One moment while I check." },
    llm: [() => slowToolCalls(), FakeLlm.say("Both orders shipped and arrive Friday.")],
    createToolRunner: okRunner,
    tts: { bytesPerChar: 40 },
  });
  const caller = await placeCall(h);
  h.stt.emit(FakeStt.final("Where are my orders 48213 and 48214?"));
  await until(() => caller.receivedBytes > 0, "the acknowledgement");
  const gap = caller.events("media")[0]!.at - toolStartAt;
  expect(gap).toBeGreaterThanOrEqual(0);
  expect(gap).toBeLessThanOrEqual(100);

  await until(() => h!.sink.ofType("turn").length === 1, "the answer", 15_000);
  const [turn] = h.sink.ofType("turn");
  expect(turn!.waterfall.firstAudioSource).toBe("acknowledgement");
  // The turn's record says the same: tool call opened → acknowledgement out.
  expect(turn!.waterfall.toolCallOpenedAt).toBeDefined();
  expect(turn!.waterfall.acknowledgementOutAt).toBeGreaterThanOrEqual(turn!.waterfall.toolCallOpenedAt!);
  expect(turn!.waterfall.acknowledgementMs).toBeLessThanOrEqual(100);
  expect(turn!.assistantText).toBe("Both orders shipped and arrive Friday.");
  expect(turn!.tools.map((t) => t.id)).toEqual(["tu_1", "tu_2"]);
  // Two tool calls over two rounds, one acknowledgement.
  expect(ackMarks(caller)).toHaveLength(1);
  await caller.hangUp();
});

test("when the model speaks before calling the tool, no canned acknowledgement plays on top", async () => {
  h = await startHarness({
    agent: { tools: [ORDER_TOOL], acknowledgement: "One moment while I check." },
    llm: [
      [
        ...FakeLlm.say("Sure, let me look up that order.").filter((e) => e.type === "text"),
        { type: "tool-use", id: "tu_1", name: "lookup_order", input: { orderId: "48213" } },
      ],
      FakeLlm.say("It shipped and arrives Friday."),
    ],
    createToolRunner: okRunner,
    tts: { bytesPerChar: 40 },
  });
  const caller = await placeCall(h);
  h.stt.emit(FakeStt.final("Where is my order 48213?"));
  await until(() => h!.sink.ofType("turn").length === 1, "the answer", 15_000);
  const [turn] = h.sink.ofType("turn");
  expect(turn!.waterfall.firstAudioSource).toBe("speech");
  expect(turn!.assistantText).toBe("Sure, let me look up that order. It shipped and arrives Friday.");
  expect(ackMarks(caller)).toHaveLength(0);
  expect(h.tts.sessions[0]!.texts.join(" ")).not.toContain("One moment while I check.");
  await caller.hangUp();
});
