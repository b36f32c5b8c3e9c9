// The acceptance test: the media node with its real provider clients (the official Deepgram and
// AWS SDKs, unmodified) against the Deepgram and Bedrock emulators, called by the simulated Twilio caller
// speaking recorded speech. Five turns: a plain answer, two tools in parallel, extended thinking, a short
// answer, and a goodbye that ends the call.
import { afterAll, beforeAll, expect, test } from "vitest";
import { type BedrockEmulator, startBedrockEmulator } from "../../../emulators/bedrock/index.ts";
import { type DeepgramEmulator, startDeepgramEmulator } from "../../../emulators/deepgram/index.ts";
import { loadFixtureIndex, runCall, SimulatedCaller } from "../../../emulators/twilio-caller/caller.ts";
import { bedrockLlm } from "../../../media-nodes/src/providers/bedrock/llm.ts";
import { deepgramStt } from "../../../media-nodes/src/providers/deepgram/stt.ts";
import { deepgramTts } from "../../../media-nodes/src/providers/deepgram/tts.ts";
import { type Harness, startHarness, until } from "./support/harness.ts";

let dg: DeepgramEmulator;
let br: BedrockEmulator;
let h: Harness;
const webhookCalls: string[] = [];

/** A realistic static prompt: long enough (over every model's minimum) for Bedrock to cache it. */
const SYSTEM_PROMPT = [
  "You are the phone receptionist of Spokes, a bike shop. Keep answers to one or two short sentences.",
  ...Array.from(
    { length: 60 },
    (_, i) =>
      `Policy ${i + 1}: repairs booked before noon are usually ready the next working day; we service e-bikes, ` +
      "road, gravel and city bikes; quotes over one hundred dollars need the customer's approval before work starts.",
  ),
].join("\n");

beforeAll(async () => {
  [dg, br] = await Promise.all([
    startDeepgramEmulator({ port: 0, profile: "instant" }),
    startBedrockEmulator({ port: 0, profile: "instant" }),
  ]);
  const tenantWebhook: typeof fetch = async (_url, init) => {
    const body = JSON.parse(String(init?.body));
    webhookCalls.push(body.tool);
    const result =
      body.tool === "lookup_order"
        ? { orderId: body.arguments.orderId, status: "shipped", eta: "Thursday" }
        : { day: body.arguments.day ?? "saturday", open: "9am", close: "5pm" };
    return new Response(JSON.stringify(result), { status: 200, headers: { "content-type": "application/json" } });
  };
  h = await startHarness({
    agent: {
      systemPrompt: SYSTEM_PROMPT,
      firstMessage: "Thanks for calling Spokes bike shop, how can I help?",
      thinkingBudgetTokens: 2048,
      tools: [
        {
          name: "lookup_order",
          description: "Find an order's status by its number.",
          inputSchema: { type: "object", properties: { orderId: { type: "string" } }, required: ["orderId"] },
          webhook: { url: "https://tenant.example/tools/order", timeoutMs: 3000 },
        },
        {
          name: "get_business_hours",
          description: "Opening hours on a given day.",
          inputSchema: { type: "object", properties: { day: { type: "string" } }, required: ["day"] },
          webhook: { url: "https://tenant.example/tools/hours", timeoutMs: 3000 },
        },
        {
          name: "end_call",
          description: "End the call once the caller is done. Say goodbye first.",
          inputSchema: { type: "object", properties: { reason: { type: "string" } } },
          builtin: "end_call",
        },
      ],
    },
    sttProvider: deepgramStt({ apiKey: "emulator-key", baseUrl: dg.url }),
    ttsProvider: deepgramTts({ apiKey: "emulator-key", baseUrl: dg.url }),
    llmProvider: bedrockLlm({
      region: "us-east-1",
      endpoint: br.url,
      credentials: { accessKeyId: "emulator", secretAccessKey: "emulator" },
    }),
    fetch: tenantWebhook,
  });
});

afterAll(async () => {
  await h?.close();
  await Promise.all([dg?.close(), br?.close()]);
});

test("a five-turn call through the official SDKs and the emulators is answered and recorded", async () => {
  const script = ["book-appointment", "order-and-hours", "compare-plans", "that-works", "thanks-goodbye"];
  const index = await loadFixtureIndex();
  const lines = script.map((name) => index.fixtures.find((f) => f.name === name)!.text);
  const callId = "call_acceptance_1";
  // What the emulated recognizer hears on this call's stream (tagged with the call ID by the node).
  dg.setScript(callId, lines);
  const caller = await SimulatedCaller.connect({
    streamUrl: h.wsUrl(),
    customParameters: { token: await h.token({ callId }) },
    replyTimeoutMs: 15_000,
  });
  const report = await runCall(caller, { script, greetingTimeoutMs: 10_000 });

  // The caller heard the greeting and an answer to every line, with no turn left hanging.
  expect(report.errors).toEqual([]);
  expect(report.greeting?.firstAgentAudioMs).not.toBeNull();
  expect(report.turns.map((t) => t.timedOut)).toEqual([false, false, false, false, false]);
  expect(report.marksEchoed).toBeGreaterThan(5);
  expect(report.endedBy).toBe("server"); // the agent hung up after its goodbye

  await until(() => h.sink.ofType("call.ended").length === 1, "the call to end");
  const turns = h.sink.ofType("turn", callId);
  expect(turns.map((t) => t.userText)).toEqual(["", ...lines]);
  for (const t of turns.slice(1)) {
    expect(t.assistantText.length).toBeGreaterThan(0);
    expect(t.waterfall.sttMs).toBeGreaterThanOrEqual(0);
    expect(t.waterfall.llmFirstTokenMs).toBeGreaterThan(0);
    expect(t.waterfall.firstAudioMs).toBeGreaterThan(0);
    expect(t.waterfall.platformOverheadMs).toBeGreaterThanOrEqual(0);
    expect(t.modelIds.length).toBeGreaterThan(0);
  }
  // Two tools, in one model turn, both answered; the model then spoke from their results.
  expect(turns[2]!.tools.map((t) => t.name).sort()).toEqual(["get_business_hours", "lookup_order"]);
  expect(turns[2]!.tools.every((t) => t.ok)).toBe(true);
  expect(webhookCalls.sort()).toEqual(["get_business_hours", "lookup_order"]);
  // The model said "let me check" itself before calling the tools: that is the acknowledgement, and the
  // canned one does not play on top of it.
  expect(turns[2]!.waterfall.firstAudioSource).toBe("speech");
  expect(turns[2]!.assistantText).toMatch(/^Let me check both of those for you\./);
  // Extended thinking on the comparison, on the top tier; its reasoning never reached the caller's ears.
  expect(turns[3]!.thinking).toBe(true);
  expect(turns[3]!.tier).toBe("opus");
  const thinkingRequests = br.requests().filter((r) => JSON.stringify(r).includes('"thinking"'));
  expect(thinkingRequests.length).toBeGreaterThan(0);
  // The prompt prefix is cached after the first request: later turns read it from the cache.
  expect(turns.slice(2).some((t) => t.usage.cacheReadInputTokens > 0)).toBe(true);
  // The goodbye ended the call through the end_call tool.
  expect(h.sink.ofType("action", callId).map((a) => a.action.type)).toEqual(["end_call"]);
  expect(h.sink.ofType("call.ended", callId)[0]!.reason).toBe("agent-ended");
}, 90_000);
