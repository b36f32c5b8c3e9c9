// Bedrock throttles in the node's own region: after retries with backoff and the tier's other models,
// the turn goes to the next region the agent's policy names, through one client per region (made on
// first use, then reused). Two Bedrock emulators stand in for two regions; the first one throttles.
import { afterAll, beforeAll, beforeEach, expect, test } from "vitest";
import { type BedrockEmulator, startBedrockEmulator } from "../../../emulators/bedrock/index.ts";
import { type BedrockLlm, bedrockLlm } from "../../../media-nodes/src/providers/bedrock/llm.ts";
import { FakeStt } from "../../../media-nodes/src/providers/fake/index.ts";
import { llmWithFallback } from "../../../media-nodes/src/providers/fallback.ts";
import type { LlmRequest } from "../../../media-nodes/src/providers/types.ts";
import { type Harness, startHarness, until } from "./support/harness.ts";
import { TwilioTestClient } from "./support/twilio-client.ts";

const US = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
const US_HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0";
const EU_HAIKU = "eu.anthropic.claude-haiku-4-5-20251001-v1:0";

let east: BedrockEmulator;
let west: BedrockEmulator;
let h: Harness | undefined;

beforeAll(async () => {
  [east, west] = await Promise.all([
    startBedrockEmulator({ port: 0, profile: "instant" }),
    startBedrockEmulator({ port: 0, profile: "instant" }),
  ]);
});
beforeEach(() => {
  east.reset();
  west.reset();
});
afterAll(async () => {
  await h?.close();
  await Promise.all([east?.close(), west?.close()]);
});

function twoRegions(): BedrockLlm {
  return bedrockLlm({
    region: "us-east-1",
    endpoints: { "us-east-1": east.url, "eu-west-1": west.url },
    credentials: { accessKeyId: "emulator", secretAccessKey: "emulator" },
  });
}

test("a throttled home region: retries, the next model, then the next region answers; clients are made once", async () => {
  east.injectFault({ kind: "ThrottlingException", count: 1_000 });
  const provider = twoRegions();
  expect(provider.clientRegions).toEqual([]);
  const failures: string[] = [];
  const llm = llmWithFallback(provider, {
    retries: 1,
    backoffMs: 5,
    onAttemptFailed: (f) => failures.push(`${f.region ?? "home"} ${f.modelId} ${f.next}`),
  });
  const request: LlmRequest = {
    modelId: "(chosen by the fallback)",
    system: "You are Acme's phone agent.",
    tools: [],
    messages: [{ role: "user", content: [{ type: "text", text: "Hello, is this Acme?" }] }],
    maxTokens: 256,
  };
  for (let turn = 0; turn < 2; turn++) {
    const events = [];
    for await (const e of llm.stream(request, [US, US_HAIKU], [{ region: "eu-west-1", modelIds: [EU_HAIKU] }]))
      events.push(e);
    expect(events.some((e) => e.type === "text")).toBe(true);
    expect(new Set(events.map((e) => `${e.region} ${e.modelId}`))).toEqual(new Set([`eu-west-1 ${EU_HAIKU}`]));
  }
  // Per turn: each home model tried twice (one retry), then the fallback region.
  expect(failures.slice(0, 4)).toEqual([
    `home ${US} retry`,
    `home ${US} fallback`,
    `home ${US_HAIKU} retry`,
    `home ${US_HAIKU} fallback`,
  ]);
  expect(east.requests().map((r) => r.modelId)).toEqual([US, US, US_HAIKU, US_HAIKU, US, US, US_HAIKU, US_HAIKU]);
  expect(west.requests().map((r) => r.modelId)).toEqual([EU_HAIKU, EU_HAIKU]);
  // Two regions, two clients, however many turns.
  expect(provider.clientRegions).toEqual(["us-east-1", "eu-west-1"]);
});

test("in a call, the agent's policy routes a throttled turn to its fallback region and the caller gets the answer", async () => {
  east.injectFault({ kind: "ThrottlingException", count: 1_000 });
  h = await startHarness({
    agent: {
      modelPolicy: {
        opus: ["us.anthropic.claude-opus-4-5-20251101-v1:0"],
        sonnet: [US],
        haiku: [US_HAIKU],
        latencySensitive: false,
        fallbackRegions: [{ region: "eu-west-1", haiku: [EU_HAIKU] }],
      },
    },
    llmProvider: twoRegions(),
    tts: { bytesPerChar: 8 },
  });
  const caller = await TwilioTestClient.connect(h.wsUrl());
  caller.start(await h.token());
  await until(() => h!.stt.current !== undefined, "the call to start");
  h.stt.emit(FakeStt.final("Hello?"));
  await until(() => h!.sink.ofType("turn").length === 1, "the answer", 15_000);
  const [turn] = h.sink.ofType("turn");
  expect(turn!.tier).toBe("haiku");
  expect(turn!.modelIds).toEqual([EU_HAIKU]);
  expect(turn!.waterfall.firstAudioSource).toBe("speech");
  expect(turn!.assistantText.length).toBeGreaterThan(0);
  expect(turn!.assistantText).toBe(west.requests()[0]!.reply!.text.trim());
  expect(east.requests().every((r) => r.error?.type === "ThrottlingException")).toBe(true);
  expect(caller.receivedBytes).toBeGreaterThan(0);
  await caller.hangUp();
});
