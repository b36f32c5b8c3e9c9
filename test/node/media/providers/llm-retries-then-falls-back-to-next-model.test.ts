// Bedrock throttles or fails: llmWithFallback retries the same model with backoff, then moves to the
// next model ID of the tier, and never replays a turn once the caller may have heard part of it.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type BedrockEmulator, startBedrockEmulator } from "../../../../emulators/bedrock/index.ts";
import { bedrockLlm } from "../../../../media-nodes/src/providers/bedrock/llm.ts";
import { llmWithFallback } from "../../../../media-nodes/src/providers/fallback.ts";
import { LlmError, type LlmRequest } from "../../../../media-nodes/src/providers/types.ts";
import { user } from "./llm.behaviour.ts";

let emulator: BedrockEmulator;
beforeAll(async () => {
  emulator = await startBedrockEmulator({ port: 0, profile: "instant" });
});
afterAll(() => emulator.close());
beforeEach(() => emulator.reset());

const US = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
const EU = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0";
const request: LlmRequest = {
  modelId: "(chosen by the fallback)",
  system: "You are Acme's phone agent.",
  tools: [],
  messages: [user("Hello, is this Acme?")],
  maxTokens: 256,
};

function provider() {
  return bedrockLlm({
    region: "us-east-1",
    endpoint: emulator.url,
    credentials: { accessKeyId: "a", secretAccessKey: "b" },
  });
}

async function run(modelIds: string[], retries = 2) {
  const failures: { modelId: string; next: string; kind: string }[] = [];
  const llm = llmWithFallback(provider(), {
    retries,
    backoffMs: 5,
    onAttemptFailed: (f) => failures.push({ modelId: f.modelId, next: f.next, kind: f.error.kind }),
  });
  const events = [];
  for await (const e of llm.stream(request, modelIds)) events.push(e);
  return { events, failures };
}

describe("llmWithFallback against Bedrock faults", () => {
  it("retries a throttled model and answers from it once it recovers", async () => {
    emulator.injectFault({ kind: "ThrottlingException", count: 2 });
    const { events, failures } = await run([US, EU]);
    expect(events.some((e) => e.type === "text")).toBe(true);
    expect(new Set(events.map((e) => e.modelId))).toEqual(new Set([US]));
    expect(failures).toEqual([
      { modelId: US, next: "retry", kind: "throttled" },
      { modelId: US, next: "retry", kind: "throttled" },
    ]);
    expect(emulator.requests().map((r) => r.modelId)).toEqual([US, US, US]);
  });

  it("moves to the next model when one stays throttled", async () => {
    emulator.injectFault({ kind: "ThrottlingException", count: 100, modelId: US });
    const { events, failures } = await run([US, EU]);
    expect(events.some((e) => e.type === "text")).toBe(true);
    expect(new Set(events.map((e) => e.modelId))).toEqual(new Set([EU]));
    expect(failures.at(-1)).toEqual({ modelId: US, next: "fallback", kind: "throttled" });
    expect(emulator.requests().map((r) => r.modelId)).toEqual([US, US, US, EU]);
  });

  it("treats an unavailable service like throttling", async () => {
    emulator.injectFault({ kind: "ServiceUnavailableException", count: 100, modelId: US });
    const { events } = await run([US, EU], 0);
    expect(new Set(events.map((e) => e.modelId))).toEqual(new Set([EU]));
  });

  it("gives up with the last error when every model fails", async () => {
    emulator.injectFault({ kind: "ThrottlingException", count: 100 });
    const error = await run([US, EU], 1).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LlmError);
    expect((error as LlmError).kind).toBe("throttled");
    expect(emulator.requests()).toHaveLength(4);
  });

  it("does not replay a turn that failed after text was streamed", async () => {
    emulator.injectFault({ kind: "ThrottlingException", count: 1, midStream: true });
    const heard: string[] = [];
    const error = await (async () => {
      const llm = llmWithFallback(provider(), { retries: 2, backoffMs: 5 });
      for await (const e of llm.stream(request, [US, EU])) if (e.type === "text") heard.push(e.text);
    })().then(
      () => null,
      (e: unknown) => e,
    );
    expect(heard.length).toBeGreaterThan(0);
    expect(error).toBeInstanceOf(LlmError);
    expect((error as LlmError).retryable).toBe(true);
    expect(emulator.requests()).toHaveLength(1);
  });

  it("does not retry a request Bedrock calls invalid", async () => {
    const error = await (async () => {
      const llm = llmWithFallback(provider(), { retries: 2, backoffMs: 5 });
      for await (const _ of llm.stream({ ...request, messages: [] }, [US, EU])) {
        // nothing
      }
    })().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LlmError);
    expect((error as LlmError).kind).toBe("invalid-request");
    expect(emulator.requests()).toHaveLength(1);
  });

  it("stops waiting between retries when the turn is aborted", async () => {
    emulator.injectFault({ kind: "ThrottlingException", count: 100 });
    const controller = new AbortController();
    const llm = llmWithFallback(provider(), { retries: 5, backoffMs: 2_000 });
    const started = Date.now();
    setTimeout(() => controller.abort(), 100);
    const error = await (async () => {
      for await (const _ of llm.stream({ ...request, signal: controller.signal }, [US, EU])) {
        // nothing
      }
    })().then(
      () => null,
      (e: unknown) => e,
    );
    expect((error as LlmError).kind).toBe("aborted");
    expect(Date.now() - started).toBeLessThan(1_500);
  });
});
