// A whole call on fakes: greeting, five caller turns (one with two tools in parallel, one with extended
// thinking, the last ending the call). What the edge would store (the session sink) must tell the
// story exactly: transcript, tools, model, and a complete, ordered latency waterfall for every turn.
import { afterEach, expect, test } from "vitest";
import { FakeLlm, FakeStt } from "../../../media-nodes/src/providers/fake/index.ts";
import type { LlmEvent } from "../../../media-nodes/src/providers/types.ts";
import { type Harness, startHarness, until } from "./support/harness.ts";
import { TwilioTestClient } from "./support/twilio-client.ts";

let h: Harness | undefined;
afterEach(async () => h?.close());

const THOUGHT = "The caller is weighing two plans; pro includes servicing, which matters for a commuter.";

test("a five-turn call with parallel tools and a thinking turn is recorded turn by turn", async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const webhookBodies: { tool: string; arguments: unknown }[] = [];
  const fakeFetch: typeof fetch = async (_url, init) => {
    const body = JSON.parse(String(init?.body));
    webhookBodies.push(body);
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, 150));
    inFlight -= 1;
    const result =
      body.tool === "lookup_order" ? { status: "shipped", shippedOn: "yesterday" } : { saturday: "9am to 5pm" };
    return new Response(JSON.stringify(result), { status: 200, headers: { "content-type": "application/json" } });
  };
  const toolTurn: LlmEvent[] = [
    { type: "tool-use", id: "tu_1", name: "lookup_order", input: { orderId: "48213" } },
    { type: "tool-use", id: "tu_2", name: "get_business_hours", input: { day: "saturday" } },
    { type: "stop", reason: "tool_use" },
  ];
  const thinkingTurn: LlmEvent[] = [
    { type: "thinking", text: THOUGHT },
    { type: "thinking-block", block: { type: "thinking", text: THOUGHT, signature: "sig-1" } },
    ...FakeLlm.say("The pro plan suits you better, because servicing is included."),
  ];
  h = await startHarness({
    agent: {
      firstMessage: "Hello, thanks for calling Spokes.",
      thinkingBudgetTokens: 2048,
      tools: [
        {
          name: "lookup_order",
          description: "Look up an order by number.",
          inputSchema: { type: "object", properties: { orderId: { type: "string" } }, required: ["orderId"] },
          webhook: { url: "https://tenant.example/tools/order", timeoutMs: 2000 },
        },
        {
          name: "get_business_hours",
          description: "Opening hours for a day.",
          inputSchema: { type: "object", properties: { day: { type: "string" } }, required: ["day"] },
          webhook: { url: "https://tenant.example/tools/hours", timeoutMs: 2000 },
        },
        {
          name: "end_call",
          description: "End the call after saying goodbye.",
          inputSchema: { type: "object", properties: { reason: { type: "string" } } },
          builtin: "end_call",
        },
      ],
    },
    llm: [
      FakeLlm.say("Sure, what's the order number?"),
      toolTurn,
      FakeLlm.say("Your order shipped yesterday. On Saturday we're open nine to five."),
      thinkingTurn,
      FakeLlm.say("Done, you're on the pro plan now."),
      [{ type: "tool-use", id: "tu_3", name: "end_call", input: { reason: "caller said goodbye" } }],
      FakeLlm.say("Goodbye, have a great day!"),
    ],
    llmOptions: { ttftMs: 20, tokenDelayMs: 2 },
    tts: { bytesPerChar: 40, firstByteMs: 10 },
    fetch: fakeFetch,
  });
  const caller = await TwilioTestClient.connect(h.wsUrl());
  caller.start(await h.token());
  const { sink, stt, llm, tts } = h;
  await until(() => sink.ofType("turn").length === 1, "the greeting to play out");

  const lines = [
    "Hi, I'd like to know where my order is.",
    "It's 48213, and what are your hours on Saturday?",
    "Can you compare the basic and pro plans and explain why one is better for me?",
    "Sign me up for pro.",
    "Thanks, goodbye.",
  ];
  for (const [i, line] of lines.entries()) {
    // The caller speaks (the VAD hears a loud line), then the recognizer finalizes the utterance.
    caller.talk(true);
    await new Promise((r) => setTimeout(r, 200));
    caller.talk(false);
    stt.emit(FakeStt.final(line));
    await until(() => sink.ofType("turn").length === i + 2, `turn ${i + 1} to be recorded`, 15_000);
  }
  await caller.closed();

  const turns = sink.ofType("turn");
  expect(turns.map((t) => [t.index, t.userText, t.assistantText])).toEqual([
    [0, "", "Hello, thanks for calling Spokes."],
    [1, lines[0], "Sure, what's the order number?"],
    [2, lines[1], "Your order shipped yesterday. On Saturday we're open nine to five."],
    [3, lines[2], "The pro plan suits you better, because servicing is included."],
    [4, lines[3], "Done, you're on the pro plan now."],
    [5, lines[4], "Goodbye, have a great day!"],
  ]);
  expect(turns.every((t) => !t.interrupted)).toBe(true);

  // Tools: both ran, at the same time, and the model got both results back before it answered.
  const toolTurnEvent = turns[2]!;
  expect(toolTurnEvent.tools.map((t) => [t.name, t.ok])).toEqual([
    ["lookup_order", true],
    ["get_business_hours", true],
  ]);
  expect(maxInFlight).toBe(2);
  expect(webhookBodies.map((b) => b.tool).sort()).toEqual(["get_business_hours", "lookup_order"]);
  const answerRequest = llm.requests[2]!;
  const results = answerRequest.messages.at(-1)!.content.filter((c) => c.type === "tool-result");
  expect(results.map((r) => (r.type === "tool-result" ? r.toolUseId : ""))).toEqual(["tu_1", "tu_2"]);
  // The caller heard the cached acknowledgement first, at once, while the tools ran.
  expect(toolTurnEvent.waterfall.firstAudioSource).toBe("acknowledgement");
  expect(tts.synthesized.some((s) => s.text === h!.agent.acknowledgement)).toBe(true);

  // Thinking: requested with the agent's budget on the top tier, never spoken, kept for the model.
  const thinkingEvent = turns[3]!;
  expect(thinkingEvent.thinking).toBe(true);
  expect(thinkingEvent.tier).toBe("opus");
  expect(llm.requests[3]!.thinkingBudgetTokens).toBe(2048);
  expect(tts.sessions.flatMap((s) => s.texts).join(" ")).not.toContain("weighing");
  expect(llm.requests[4]!.messages.some((m) => m.content.some((c) => c.type === "thinking"))).toBe(true);

  // Every caller turn has a complete waterfall in causal order.
  for (const t of turns.slice(1)) {
    const w = t.waterfall;
    expect(w.speechEndAt).toBeDefined();
    expect(w.sttFinalAt! >= w.speechEndAt!).toBe(true);
    expect(w.llmRequestAt! >= w.sttFinalAt!).toBe(true);
    expect(w.llmFirstTokenAt! >= w.llmRequestAt!).toBe(true);
    expect(w.firstAudioOutAt! >= w.sttFinalAt!).toBe(true);
    expect(w.platformOverheadMs).toBeGreaterThanOrEqual(0);
    expect(w.firstAudioMs).toBeGreaterThan(0);
    expect(t.modelIds.length).toBeGreaterThan(0);
  }
  // Speech turns also time TTS.
  for (const t of [turns[1]!, turns[4]!]) expect(t.waterfall.ttsFirstByteMs).toBeGreaterThanOrEqual(0);

  // The last turn ended the call after its goodbye played.
  expect(sink.ofType("action").map((a) => a.action.type)).toEqual(["end_call"]);
  const ended = sink.ofType("call.ended")[0]!;
  expect(ended.reason).toBe("agent-ended");
  expect(ended.turns).toBe(5);
  expect(caller.closeCode).toBe(1000);
  expect(caller.closeReason).toBe("call ended by agent");
  const lastMark = caller.echoed.at(-1)?.name;
  expect(lastMark).toBe("t5end");

  // Events arrive in order, numbered per call, as the edge's outbox expects.
  expect(sink.events.map((e) => e.seq)).toEqual(sink.events.map((_, i) => i));

  // The waterfall is also exported for Prometheus.
  const metrics = await (await fetch(`${h.node.url}/metrics`)).text();
  expect(metrics).toMatch(/media_turn_platform_overhead_ms_count 6/);
  expect(metrics).toMatch(/media_turn_first_audio_ms_count 5/);
  expect(metrics).toMatch(/media_llm_requests_total\{model="us\.anthropic\.claude-opus[^"]*"\} 1/);
});
