// A standalone emulator's latencies are set from outside (the environment), so a load test can model a slow
// Opus beside a fast Haiku, or a slow STT, without code. A request takes its model's latency: the exact model
// ID, then the base ID (inference-profile prefix removed), then the family, then the default.
import { afterEach, describe, expect, it } from "vitest";
import { startBedrockEmulator } from "../../../emulators/bedrock/index.ts";
import { startDeepgramEmulator } from "../../../emulators/deepgram/index.ts";
import { SONNET, sdkClient, streamAll, userText } from "./bedrock-client.ts";

const saved = { ...process.env };
afterEach(() => {
  for (const k of ["BEDROCK_EMULATOR_LATENCY", "DEEPGRAM_EMULATOR_LATENCY", "EMULATOR_PROFILE"]) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

const pace = (ttftMs: number) => ({ ttftMs, ttftCacheHitMs: ttftMs, tokensPerSecond: 0 });

describe("Bedrock emulator latency from BEDROCK_EMULATOR_LATENCY", () => {
  it("gives each request its model's time to first token, most specific entry first", async () => {
    process.env.EMULATOR_PROFILE = "realistic"; // the JSON table wins over the named profile
    process.env.BEDROCK_EMULATOR_LATENCY = JSON.stringify({
      default: pace(5),
      haiku: pace(7),
      "anthropic.claude-sonnet-4-5-20250929-v1:0": pace(11),
      [SONNET]: pace(13),
    });
    const emulator = await startBedrockEmulator({ port: 0 });
    const client = sdkClient(emulator.url);
    try {
      const models = [
        SONNET, // exact ID
        "eu.anthropic.claude-sonnet-4-5-20250929-v1:0", // base ID of another region's profile
        "us.anthropic.claude-haiku-4-5-20251001-v1:0", // family
        "us.anthropic.claude-opus-4-1-20250805-v1:0", // default
      ];
      for (const modelId of models) await streamAll(client, { modelId, messages: [userText("Hello?")] });
      expect(emulator.requests().map((r) => r.ttftMs)).toEqual([13, 11, 7, 5]);
    } finally {
      client.destroy();
      await emulator.close();
    }
  });

  it("refuses to start on a table it cannot read, saying what it expects", async () => {
    process.env.BEDROCK_EMULATOR_LATENCY = "{not json";
    await expect(startBedrockEmulator({ port: 0 })).rejects.toThrow(/BEDROCK_EMULATOR_LATENCY is not valid JSON/);
    process.env.BEDROCK_EMULATOR_LATENCY = JSON.stringify({ haiku: pace(1) });
    await expect(startBedrockEmulator({ port: 0 })).rejects.toThrow(/"default"/);
  });
});

describe("Deepgram emulator latency from DEEPGRAM_EMULATOR_LATENCY", () => {
  it("uses the configured STT and TTS delays instead of the named profile", async () => {
    process.env.EMULATOR_PROFILE = "realistic";
    process.env.DEEPGRAM_EMULATOR_LATENCY = JSON.stringify({ sttFinalDelayMs: 40, ttsFirstByteMs: 250 });
    const emulator = await startDeepgramEmulator({ port: 0, voice: "synthetic" });
    try {
      const health = (await (await fetch(`${emulator.url}/__emulator/health`)).json()) as {
        profile: string;
        latency: Record<string, number>;
      };
      expect(health.profile).toBe("custom");
      expect(health.latency).toMatchObject({ sttFinalDelayMs: 40, ttsFirstByteMs: 250 });

      const started = performance.now();
      const res = await fetch(`${emulator.url}/v1/speak?model=aura-2-thalia-en&encoding=mulaw&sample_rate=8000`, {
        method: "POST",
        headers: { authorization: "Token local", "content-type": "application/json" },
        body: JSON.stringify({ text: "One moment." }),
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      expect(performance.now() - started).toBeGreaterThanOrEqual(240);
    } finally {
      await emulator.close();
    }
  });

  it("refuses JSON it cannot read", async () => {
    process.env.DEEPGRAM_EMULATOR_LATENCY = "150";
    await expect(startDeepgramEmulator({ port: 0 })).rejects.toThrow(/Deepgram emulator options/);
  });
});
