// handoff_to_agent: once the edge has handed the call to another agent's published version, the very next model
// request of the same turn is that agent's (its prompt prefix and tools, fetched and checked by the prefix hash the
// edge named), with the earlier tool calls turned into text and a note of what the caller wants; the caller hears
// the new agent without a gap. If that version cannot be had, the first agent is told so and carries on.
import { afterEach, expect, test } from "vitest";
import type { ToolRunnerPort } from "../../../media-nodes/src/pipeline/call.ts";
import { FakeLlm, FakeStt } from "../../../media-nodes/src/providers/fake/index.ts";
import type { AgentRuntimeConfig } from "../../../shared/agent-config.ts";
import { compilePromptPrefix } from "../../../shared/prompt-prefix.ts";
import { type Harness, startHarness, testAgent, until } from "./support/harness.ts";
import { TwilioTestClient } from "./support/twilio-client.ts";

let h: Harness | undefined;
afterEach(async () => h?.close());

const BILLING: AgentRuntimeConfig = testAgent({
  agentId: "agt_billing",
  version: 3,
  systemPrompt: "You are the billing specialist of a bike shop. You handle refunds.",
  tools: [
    {
      name: "issue_refund",
      description: "Refund an order.",
      inputSchema: { type: "object", properties: { orderId: { type: "string" } } },
      webhook: { url: "https://tenant.example/refund", timeoutMs: 3_000 },
    },
  ],
});

const HANDOFF_TOOL = {
  name: "handoff_to_agent",
  description: "Hand off.",
  inputSchema: { type: "object" },
  builtin: "handoff_to_agent" as const,
};

/** The edge's answer as the tool runner passes it on: handed off to `version` of billing, named by `prefixHash`. */
function handingOffTo(version: number, prefixHash: string): (agent: AgentRuntimeConfig) => ToolRunnerPort {
  return (agent) => ({
    async run(calls) {
      if (agent.agentId === BILLING.agentId) throw new Error("billing made no tool calls in this test");
      return {
        outcomes: calls.map((c) => ({ id: c.id, name: c.name, ok: true, result: { status: "handed_off" }, ms: 1 })),
        actions: [
          {
            type: "handoff_to_agent" as const,
            agentId: BILLING.agentId,
            agentVersion: version,
            prefixHash,
            context: {
              recentHistory: [],
              entities: { orderNumber: "48213" },
              intent: "a refund for a double charge",
              reason: "billing owns refunds",
            },
          },
        ],
      };
    },
  });
}

const handoffCall = [
  ...FakeLlm.say("Let me pass you to billing.").filter((e) => e.type === "text"),
  { type: "tool-use" as const, id: "tu_1", name: "handoff_to_agent", input: { agentId: "agt_billing" } },
];

async function callAndAsk(harness: Harness): Promise<TwilioTestClient> {
  const caller = await TwilioTestClient.connect(harness.wsUrl());
  caller.start(await harness.token());
  await until(() => harness.stt.current !== undefined, "the call to start");
  harness.stt.emit(FakeStt.final("I was charged twice for order 48213."));
  return caller;
}

test("the next request of the turn is the other agent's, and the caller hears it in the same turn", async () => {
  const billingPrefix = await compilePromptPrefix(BILLING);
  h = await startHarness({
    agent: { tools: [HANDOFF_TOOL] },
    llm: [handoffCall, FakeLlm.say("Hi, this is billing. I can refund that double charge for you.")],
    createToolRunner: handingOffTo(BILLING.version, billingPrefix.hash),
    tts: { bytesPerChar: 40 },
  });
  h.directory.add(BILLING);
  const caller = await callAndAsk(h);
  await until(() => h!.sink.ofType("turn").length === 1, "the turn", 15_000);

  const [first, second] = h.llm.requests;
  expect(first!.system).not.toEqual(billingPrefix.system);
  expect(second!.system).toEqual(billingPrefix.system);
  expect(second!.tools).toEqual(billingPrefix.tools);
  expect(second!.metadata?.agentId).toBe("agt_billing");
  // Billing has no handoff tool: the first agent's tool call reaches it as text, with what the caller wants.
  const blocks = second!.messages.flatMap((m) => m.content);
  expect(blocks.every((c) => c.type === "text")).toBe(true);
  const said = blocks.map((c) => (c.type === "text" ? c.text : "")).join("\n");
  expect(said).toContain("I was charged twice for order 48213.");
  expect(said).toContain("[called handoff_to_agent");
  expect(said).toContain("a refund for a double charge");
  expect(said).toContain("orderNumber: 48213");

  const [turn] = h.sink.ofType("turn");
  expect(turn!.assistantText).toBe(
    "Let me pass you to billing. Hi, this is billing. I can refund that double charge for you.",
  );
  expect(h.tts.sessions[0]!.texts.join(" ")).toContain("Hi, this is billing.");
  await caller.hangUp();
});

test("a version the node cannot verify keeps the caller with the first agent, which is told so", async () => {
  h = await startHarness({
    agent: { tools: [HANDOFF_TOOL] },
    llm: [handoffCall, FakeLlm.say("I'm sorry, billing isn't available, but I can note the double charge.")],
    // A prefix hash that is not billing's: the node refuses to run the call on a prompt it was not named.
    createToolRunner: handingOffTo(BILLING.version, "0".repeat(64)),
    tts: { bytesPerChar: 40 },
  });
  h.directory.add(BILLING);
  const caller = await callAndAsk(h);
  await until(() => h!.sink.ofType("turn").length === 1, "the turn", 15_000);

  const [first, second] = h.llm.requests;
  expect(second!.system).toEqual(first!.system);
  expect(second!.metadata?.agentId).toBe(h.agent.agentId);
  const last = second!.messages.at(-1)!;
  expect(JSON.stringify(last.content)).toContain("The handoff did not go through");
  await caller.hangUp();
});
