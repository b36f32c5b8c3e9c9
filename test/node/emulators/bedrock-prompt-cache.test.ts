// Prompt-cache accounting as the platform sees it in `usage`: the static prefix before a cache point is
// written once, read on later turns, written again when it changes or expires, and a read makes the
// first token come sooner.
import type { ConverseStreamCommandInput, Tool } from "@aws-sdk/client-bedrock-runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BedrockEmulator, startBedrockEmulator } from "../../../emulators/bedrock/index.ts";
import { HAIKU, longPrompt, PHONE_TOOLS, SONNET, sdkClient, streamAll, userText } from "./bedrock-client.ts";

// Short enough for a quick suite, long enough that a loaded machine stays well inside the margins below.
const TTL_MS = 1_500;

let emulator: BedrockEmulator;
let client: ReturnType<typeof sdkClient>;
beforeAll(async () => {
  emulator = await startBedrockEmulator({ port: 0, profile: "instant", cacheTtlMs: TTL_MS });
  client = sdkClient(emulator.url);
});
afterAll(async () => {
  client.destroy();
  await emulator.close();
});

function turn(system: string, said: string, modelId = SONNET): ConverseStreamCommandInput {
  return {
    modelId,
    system: [{ text: system }, { cachePoint: { type: "default" } }],
    messages: [userText(said)],
  };
}

async function usageOf(input: ConverseStreamCommandInput) {
  const { events } = await streamAll(client, input);
  const usage = events.find((e) => e.metadata)?.metadata?.usage;
  if (!usage) throw new Error("no metadata event");
  return usage;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("prompt cache", () => {
  it("writes the prefix on the first turn and reads it on the next, billing only the new words as input", async () => {
    const system = longPrompt(1_500, "First Clinic");
    const first = await usageOf(turn(system, "Hi, are you open today?"));
    expect(first.cacheWriteInputTokens).toBeGreaterThanOrEqual(1_500);
    expect(first.cacheReadInputTokens).toBe(0);
    expect(first.cacheDetails).toEqual([{ ttl: "5m", inputTokens: first.cacheWriteInputTokens }]);

    const second = await usageOf(turn(system, "And can I bring my dog along to the appointment?"));
    expect(second.cacheReadInputTokens).toBe(first.cacheWriteInputTokens);
    expect(second.cacheWriteInputTokens).toBe(0);
    expect(second.inputTokens).toBeLessThan(50);
    expect(second.totalTokens).toBe(
      (second.inputTokens ?? 0) +
        (second.outputTokens ?? 0) +
        (second.cacheReadInputTokens ?? 0) +
        (second.cacheWriteInputTokens ?? 0),
    );
  });

  it("writes again when the prefix changes, and keeps caches apart per model", async () => {
    const system = longPrompt(1_500, "Second Clinic");
    await usageOf(turn(system, "Hello"));
    const changed = await usageOf(turn(`${system} Today is a holiday.`, "Hello"));
    expect(changed.cacheReadInputTokens).toBe(0);
    expect(changed.cacheWriteInputTokens).toBeGreaterThan(0);

    const otherProfile = await usageOf(turn(system, "Hello", "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"));
    expect(otherProfile.cacheReadInputTokens).toBe(0);
    expect(otherProfile.cacheWriteInputTokens).toBeGreaterThan(0);
  });

  it("expires an entry after the TTL unless a read refreshed it", async () => {
    const system = longPrompt(1_500, "Third Clinic");
    await usageOf(turn(system, "one"));
    await sleep(TTL_MS * 0.6);
    expect((await usageOf(turn(system, "two"))).cacheReadInputTokens).toBeGreaterThan(0);
    await sleep(TTL_MS * 0.6);
    // 1.2 TTLs after the write, alive only because the read above started its TTL again.
    expect((await usageOf(turn(system, "three"))).cacheReadInputTokens).toBeGreaterThan(0);
    await sleep(TTL_MS * 1.5);
    const expired = await usageOf(turn(system, "four"));
    expect(expired.cacheReadInputTokens).toBe(0);
    expect(expired.cacheWriteInputTokens).toBeGreaterThan(0);
  });

  it("caches nothing when the prefix is under the model's minimum (1,024 for Sonnet 4.5, 4,096 for Haiku 4.5)", async () => {
    const short = await usageOf(turn("You are a receptionist.", "Hello"));
    expect(short.cacheWriteInputTokens).toBe(0);
    expect(short.cacheReadInputTokens).toBe(0);

    const system = longPrompt(2_000, "Fourth Clinic");
    const onHaiku = await usageOf(turn(system, "Hello", HAIKU));
    expect(onHaiku.cacheWriteInputTokens).toBe(0);
    expect(onHaiku.inputTokens).toBeGreaterThanOrEqual(2_000);
    const onSonnet = await usageOf(turn(system, "Hello", SONNET));
    expect(onSonnet.cacheWriteInputTokens).toBeGreaterThanOrEqual(2_000);
  });

  it("puts tools before the system prompt: a tools cache point still hits when only the system prompt changed", async () => {
    const bigTools: Tool[] = [
      ...PHONE_TOOLS.flatMap((t): Tool[] =>
        t.toolSpec ? [{ toolSpec: { ...t.toolSpec, description: longPrompt(300, t.toolSpec.name ?? "") } }] : [],
      ),
      { cachePoint: { type: "default" } },
    ];
    const input = (system: string): ConverseStreamCommandInput => ({
      ...turn(system, "Hello"),
      toolConfig: { tools: bigTools },
    });
    const first = await usageOf(input(longPrompt(1_200, "Fifth Clinic")));
    expect(first.cacheReadInputTokens).toBe(0);
    const second = await usageOf(input(longPrompt(1_200, "Sixth Clinic")));
    expect(second.cacheReadInputTokens).toBeGreaterThanOrEqual(1_500);
    expect(second.cacheWriteInputTokens).toBeGreaterThanOrEqual(1_200);

    const [checkpoints] = emulator
      .requests()
      .slice(-1)
      .map((r) => r.cache.map((c) => [c.at, c.status]));
    expect(checkpoints).toEqual([
      ["toolConfig.tools.5", "hit"],
      ["system.1", "written"],
    ]);
  });
});

describe("time to first token", () => {
  it("comes sooner on a cache read than on a miss, per the latency profile", async () => {
    const slow = await startBedrockEmulator({
      port: 0,
      profile: { default: { ttftMs: 900, ttftCacheHitMs: 50, tokensPerSecond: 0 } },
    });
    const slowClient = sdkClient(slow.url);
    try {
      const system = longPrompt(1_500, "Seventh Clinic");
      const miss = await streamAll(slowClient, turn(system, "Hello"));
      const hit = await streamAll(slowClient, turn(system, "Hello again"));
      expect(miss.firstEventMs).toBeGreaterThanOrEqual(800);
      expect(hit.firstEventMs).toBeLessThan(miss.firstEventMs - 400);
      expect(slow.requests().map((r) => [r.cacheHit, r.ttftMs])).toEqual([
        [false, 900],
        [true, 50],
      ]);
    } finally {
      slowClient.destroy();
      await slow.close();
    }
  });
});
