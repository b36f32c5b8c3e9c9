// Extended thinking: the agent's budget is a ceiling, each turn thinks for what it warrants (within
// 1,024..64,000), and the reasoning is never spoken. The node's real Bedrock client talks to the Bedrock
// emulator, which records each request's body and the reasoning it streamed back.
import { afterAll, beforeAll, expect, test } from "vitest";
import { type BedrockEmulator, type RecordedRequest, startBedrockEmulator } from "../../../emulators/bedrock/index.ts";
import { bedrockLlm } from "../../../media-nodes/src/providers/bedrock/llm.ts";
import { FakeStt } from "../../../media-nodes/src/providers/fake/index.ts";
import { classifyTurn, thinkingBudgetFor } from "../../../shared/model-policy.ts";
import { type Harness, startHarness, testAgent, until } from "./support/harness.ts";
import { TwilioTestClient } from "./support/twilio-client.ts";

let br: BedrockEmulator;
let h: Harness;

beforeAll(async () => {
  br = await startBedrockEmulator({ port: 0, profile: "instant" });
  h = await startHarness({
    agent: { thinkingBudgetTokens: 20_000, maxTokens: 1_024 },
    llmProvider: bedrockLlm({
      region: "us-east-1",
      endpoint: br.url,
      credentials: { accessKeyId: "emulator", secretAccessKey: "emulator" },
    }),
    tts: { bytesPerChar: 4 },
  });
});

afterAll(async () => {
  await h?.close();
  await br?.close();
});

interface ConverseBody {
  inferenceConfig?: { maxTokens?: number };
  additionalModelRequestFields?: { thinking?: { type: string; budget_tokens: number } };
}

const bodyOf = (r: RecordedRequest) => r.body as ConverseBody;

test("each turn's request carries the budget its difficulty warrants, capped by the agent's, and the reasoning stays silent", async () => {
  const caller = await TwilioTestClient.connect(h.wsUrl());
  caller.start(await h.token());
  await until(() => h.stt.current !== undefined, "the call to start");
  const lines = [
    // Hard on one count (high complexity): a bounded budget.
    "Compare the two warranty options for me in detail.",
    // Hard on both counts (complexity and code): the agent's whole budget.
    "Can you walk me through why my Python script fails when it calls your API endpoint, step by step?",
    // Not hard: no thinking at all.
    "ok thanks",
  ];
  for (const [i, line] of lines.entries()) {
    h.stt.emit(FakeStt.final(line));
    await until(() => h.sink.ofType("turn").length === i + 1, `turn ${i + 1}`, 15_000);
  }

  const requests = br.requests().filter((r) => r.operation === "ConverseStream");
  expect(requests).toHaveLength(3);
  const budgets = requests.map((r) => bodyOf(r).additionalModelRequestFields?.thinking?.budget_tokens ?? 0);
  expect(budgets).toEqual([8_192, 20_000, 0]);
  // The answer keeps its own allowance on top of the thinking budget.
  expect(requests.map((r) => bodyOf(r).inferenceConfig?.maxTokens)).toEqual([1_024 + 8_192, 1_024 + 20_000, 1_024]);

  const turns = h.sink.ofType("turn");
  expect(turns.map((t) => t.thinking)).toEqual([true, true, false]);
  expect(turns.slice(0, 2).map((t) => t.tier)).toEqual(["opus", "opus"]);
  // The model did reason on the thinking turns, and none of it reached the voice or the transcript.
  const spoken = h.tts.sessions.flatMap((s) => s.texts).join(" ");
  for (const [i, r] of requests.slice(0, 2).entries()) {
    const reasoning = r.reply?.thinking?.trim() ?? "";
    expect(reasoning.length).toBeGreaterThan(20);
    const probe = reasoning.slice(0, 40);
    expect(spoken).not.toContain(probe);
    expect(turns[i]!.assistantText).not.toContain(probe);
    expect(turns[i]!.assistantText.length).toBeGreaterThan(0);
  }
  await caller.hangUp();
}, 60_000);

test("on a turn sent to extended thinking, the acknowledgement is heard within 100 ms of the turn being confirmed", async () => {
  const caller = await TwilioTestClient.connect(h.wsUrl());
  caller.start(await h.token());
  await until(() => h.stt.current !== undefined, "the call to start");
  const agent = testAgent({ thinkingBudgetTokens: 20_000, maxTokens: 1_024 });
  await until(() => h.tts.synthesized.some((s) => s.text === agent.acknowledgement), "the acknowledgement's audio");
  const before = h.sink.ofType("turn").length;
  // The recognizer's final confirms the turn; a hard question sends it to extended thinking.
  const confirmedAt = performance.now();
  h.stt.emit(FakeStt.final("Compare the two warranty options for me in detail."));
  await until(() => caller.receivedBytes > 0, "the acknowledgement");
  const heardAfter = caller.events("media")[0]!.at - confirmedAt;
  expect(heardAfter).toBeGreaterThanOrEqual(0);
  expect(heardAfter).toBeLessThanOrEqual(100);
  await until(() => h.sink.ofType("turn").length === before + 1, "the answer", 15_000);
  const turn = h.sink.ofType("turn").at(-1)!;
  expect(turn.thinking).toBe(true);
  expect(turn.waterfall.firstAudioSource).toBe("acknowledgement");
  expect(turn.waterfall.acknowledgementMs).toBeLessThanOrEqual(100);
  await caller.hangUp();
}, 30_000);

test("a per-turn budget is clamped to 1,024..64,000 and to the agent's ceiling", () => {
  const small = testAgent({ thinkingBudgetTokens: 4_096 });
  const hardCode = "Explain why my SQL query is slow and compare the options in detail.";
  expect(classifyTurn(hardCode, small).thinkingBudgetTokens).toBe(4_096);
  expect(classifyTurn(hardCode, small, { thinkingBudgetTokens: 50_000 }).thinkingBudgetTokens).toBe(4_096);
  expect(classifyTurn(hardCode, small, { thinkingBudgetTokens: 10 }).thinkingBudgetTokens).toBe(1_024);
  expect(classifyTurn("yes", small, { thinkingThisTurn: true }).thinkingBudgetTokens).toBe(1_024);
  expect(classifyTurn("yes", small).thinkingBudgetTokens).toBe(0);
  expect(thinkingBudgetFor({ complexity: "high", code: true }, 100_000)).toBe(64_000);
  expect(thinkingBudgetFor({ complexity: "high", code: false }, 2_048)).toBe(2_048);
});
