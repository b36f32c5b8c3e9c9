// Errors arrive as the SDK's named exception classes, the way the service sends them: invalid requests,
// unknown models, injected throttling and outages (before and during the stream), broken bodies; and the
// emulator keeps serving afterwards.
import {
  ConverseCommand,
  ConverseStreamCommand,
  type ConverseStreamCommandInput,
  InternalServerException,
  type Message,
  ModelNotReadyException,
  ModelStreamErrorException,
  ResourceNotFoundException,
  ServiceUnavailableException,
  ThrottlingException,
  type ToolInputSchema,
  ValidationException,
} from "@aws-sdk/client-bedrock-runtime";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type BedrockEmulator,
  controlBedrockEmulator,
  startBedrockEmulator,
} from "../../../emulators/bedrock/index.ts";
import {
  assistantMessage,
  FAKE_SIGV4,
  PHONE_TOOLS,
  rawRequest,
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
  client = sdkClient(emulator.url, { maxAttempts: 1 });
});
afterEach(() => emulator.reset());
afterAll(async () => {
  client.destroy();
  await emulator.close();
});

const hello = (extra: Partial<ConverseStreamCommandInput> = {}): ConverseStreamCommandInput => ({
  modelId: SONNET,
  messages: [userText("Hello there")],
  ...extra,
});

const toolUseTurn: Message = {
  role: "assistant",
  content: [{ toolUse: { toolUseId: "tooluse_a", name: "lookup_order", input: { order_id: "1" } } }],
};

async function rejection(input: ConverseStreamCommandInput): Promise<unknown> {
  try {
    await streamAll(client, input);
  } catch (error) {
    return error;
  }
  throw new Error("expected the request to fail");
}

describe("request validation", () => {
  const tools = { tools: PHONE_TOOLS };
  const cases: [string, ConverseStreamCommandInput, RegExp][] = [
    ["no messages", hello({ messages: [] }), /must start with a user message/],
    [
      "an assistant message first",
      hello({ messages: [{ role: "assistant", content: [{ text: "Hi" }] }] }),
      /must start with a user message/,
    ],
    [
      "two user messages in a row",
      hello({ messages: [userText("a"), userText("b")] }),
      /alternate between user and assistant/,
    ],
    ["a message with no content", hello({ messages: [{ role: "user", content: [] }] }), /messages\.0 is empty/],
    ["blank text", hello({ messages: [userText("   ")] }), /is blank/],
    [
      "a tool result answering no tool use",
      hello({
        messages: [
          userText("hi"),
          { role: "assistant", content: [{ text: "ok" }] },
          { role: "user", content: [{ toolResult: { toolUseId: "tooluse_x", content: [{ text: "r" }] } }] },
        ],
        toolConfig: tools,
      }),
      /unexpected `tool_use_id`.*tooluse_x/,
    ],
    [
      "a tool use left unanswered",
      hello({ messages: [userText("hi"), toolUseTurn, userText("and?")], toolConfig: tools }),
      /`tool_use` ids were found without `tool_result`.*tooluse_a/,
    ],
    [
      "tool blocks without toolConfig",
      hello({
        messages: [
          userText("hi"),
          toolUseTurn,
          { role: "user", content: [{ toolResult: { toolUseId: "tooluse_a", content: [{ text: "r" }] } }] },
        ],
      }),
      /toolConfig field must be defined/,
    ],
    [
      "a tool without inputSchema.json",
      hello({ toolConfig: { tools: [{ toolSpec: { name: "x", inputSchema: {} as ToolInputSchema } }] } }),
      /inputSchema/,
    ],
    ["temperature above 1", hello({ inferenceConfig: { temperature: 1.5 } }), /inferenceConfig\.temperature/],
    ["maxTokens of 0", hello({ inferenceConfig: { maxTokens: 0 } }), /inferenceConfig\.maxTokens/],
    [
      "maxTokens over the model's limit",
      hello({ inferenceConfig: { maxTokens: 200_000 } }),
      /exceeds the model limit of 64000/,
    ],
    [
      "a thinking budget under 1024",
      hello({ additionalModelRequestFields: { thinking: { type: "enabled", budget_tokens: 512 } } }),
      /budget_tokens: Input should be greater than or equal to 1024/,
    ],
    [
      "a thinking budget not below maxTokens",
      hello({
        inferenceConfig: { maxTokens: 2000 },
        additionalModelRequestFields: { thinking: { type: "enabled", budget_tokens: 2000 } },
      }),
      /`max_tokens` must be greater than `thinking.budget_tokens`/,
    ],
    [
      "temperature with thinking",
      hello({
        inferenceConfig: { maxTokens: 4000, temperature: 0.3 },
        additionalModelRequestFields: { thinking: { type: "enabled", budget_tokens: 1024 } },
      }),
      /temperature/,
    ],
    [
      "five cache points",
      hello({
        system: [{ text: "a" }, ...Array.from({ length: 5 }, () => ({ cachePoint: { type: "default" as const } }))],
      }),
      /maximum of 4 blocks with cache_control/,
    ],
    [
      "a forced tool that isn't offered",
      hello({ toolConfig: { tools: PHONE_TOOLS, toolChoice: { tool: { name: "nope" } } } }),
      /nope/,
    ],
    ["an unknown model ID", hello({ modelId: "us.anthropic.claude-nonexistent-v1:0" }), /model identifier is invalid/],
    [
      "a profile the model isn't offered under",
      hello({ modelId: "jp.anthropic.claude-opus-4-20250514-v1:0" }),
      /model identifier is invalid/,
    ],
    [
      "a Claude 4 base ID on demand",
      hello({ modelId: "anthropic.claude-sonnet-4-5-20250929-v1:0" }),
      /on-demand throughput isn’t supported/,
    ],
  ];

  it.each(cases)("refuses %s with a ValidationException", async (_name, input, message) => {
    const error = await rejection(input);
    expect(error).toBeInstanceOf(ValidationException);
    expect((error as ValidationException).message).toMatch(message);
    expect((error as ValidationException).$metadata.httpStatusCode).toBe(400);
  });

  it("refuses a retired model with ResourceNotFoundException", async () => {
    const error = await rejection(hello({ modelId: "us.anthropic.claude-3-5-haiku-20241022-v1:0" }));
    expect(error).toBeInstanceOf(ResourceNotFoundException);
  });

  it("accepts model ARNs of inference profiles and foundation models", async () => {
    const profileArn = `arn:aws:bedrock:us-east-1:123456789012:inference-profile/${SONNET}`;
    await expect(streamAll(client, hello({ modelId: profileArn }))).resolves.toBeDefined();
    const baseArn = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0";
    await expect(streamAll(client, hello({ modelId: baseArn }))).rejects.toBeInstanceOf(ValidationException);
  });

  it("requires thinking to be sent back unchanged when a tool loop continues with thinking on", async () => {
    const thinkingOn = {
      inferenceConfig: { maxTokens: 4000 },
      additionalModelRequestFields: { thinking: { type: "enabled", budget_tokens: 1024 } },
      toolConfig: { tools: PHONE_TOOLS },
    };
    const question = userText("Where is my order 48213?");
    const first = await streamAll(client, hello({ ...thinkingOn, messages: [question] }));
    const asked = assistantMessage(first.events);
    const [call] = toolUses(asked);
    const result: Message = {
      role: "user",
      content: [{ toolResult: { toolUseId: call?.toolUseId, content: [{ json: { status: "delivered" } }] } }],
    };

    const intact = await streamAll(client, hello({ ...thinkingOn, messages: [question, asked, result] }));
    expect(streamedText(intact.events)).toMatch(/delivered/);

    const withoutThinking = { ...asked, content: asked.content?.filter((b) => !b.reasoningContent) };
    const dropped = await rejection(hello({ ...thinkingOn, messages: [question, withoutThinking, result] }));
    expect(dropped).toBeInstanceOf(ValidationException);
    expect((dropped as Error).message).toMatch(/must start with a thinking block/);

    const tampered = structuredClone(asked);
    const reasoning = tampered.content?.[0]?.reasoningContent?.reasoningText;
    if (reasoning) reasoning.text = `${reasoning.text} (edited)`;
    const edited = await rejection(hello({ ...thinkingOn, messages: [question, tampered, result] }));
    expect((edited as Error).message).toMatch(/Invalid `signature`/);
  });
});

describe("injected faults", () => {
  it.each([
    ["ThrottlingException", ThrottlingException, 429],
    ["ServiceUnavailableException", ServiceUnavailableException, 503],
    ["ModelNotReadyException", ModelNotReadyException, 429],
    ["InternalServerException", InternalServerException, 500],
  ] as const)("fails the next requests with %s, then recovers", async (kind, ErrorClass, status) => {
    emulator.injectFault({ kind, count: 2 });
    for (let i = 0; i < 2; i++) {
      const error = await rejection(hello());
      expect(error).toBeInstanceOf(ErrorClass);
      expect((error as InstanceType<typeof ErrorClass>).$metadata.httpStatusCode).toBe(status);
    }
    await expect(streamAll(client, hello())).resolves.toBeDefined();
  });

  it("fails only the model a fault names, so a fallback profile still answers", async () => {
    emulator.injectFault({ kind: "ThrottlingException", count: 5, modelId: SONNET });
    await expect(streamAll(client, hello())).rejects.toBeInstanceOf(ThrottlingException);
    const fallback = await streamAll(client, hello({ modelId: "eu.anthropic.claude-sonnet-4-5-20250929-v1:0" }));
    expect(streamedText(fallback.events)).not.toBe("");
  });

  it("applies to Converse as well", async () => {
    emulator.injectFault({ kind: "ServiceUnavailableException", count: 1, midStream: true });
    await expect(
      client.send(new ConverseCommand({ modelId: SONNET, messages: [userText("Hello")] })),
    ).rejects.toBeInstanceOf(ServiceUnavailableException);
  });

  it("is retried by a default client (three attempts), which then succeeds", async () => {
    const retrying = sdkClient(emulator.url);
    try {
      emulator.injectFault({ kind: "ThrottlingException", count: 1 });
      const { events } = await streamAll(retrying, hello());
      expect(streamedText(events)).not.toBe("");
      expect(emulator.requests().map((r) => r.error?.type ?? "ok")).toEqual(["ThrottlingException", "ok"]);
    } finally {
      retrying.destroy();
    }
  });

  it("throws a mid-stream exception from the iterator after part of the reply", async () => {
    const readUntilError = async () => {
      const out = await client.send(new ConverseStreamCommand(hello()));
      const texts: string[] = [];
      try {
        for await (const event of out.stream ?? []) {
          if (event.contentBlockDelta?.delta?.text) texts.push(event.contentBlockDelta.delta.text);
        }
      } catch (error) {
        return { texts, error };
      }
      throw new Error("expected the stream to fail");
    };

    emulator.injectFault({ kind: "ThrottlingException", count: 1, midStream: true });
    const throttled = await readUntilError();
    expect(throttled.error).toBeInstanceOf(ThrottlingException);
    expect(throttled.texts.length).toBeGreaterThan(0);
    expect(emulator.requests()[0]?.error).toEqual(
      expect.objectContaining({ type: "ThrottlingException", midStream: true }),
    );

    // ModelNotReady has no member in the stream union: it arrives as a model stream error.
    emulator.injectFault({ kind: "ModelNotReadyException", count: 1, midStream: true });
    const notReady = await readUntilError();
    expect(notReady.error).toBeInstanceOf(ModelStreamErrorException);
    expect((notReady.error as ModelStreamErrorException).originalStatusCode).toBe(429);
  });
});

describe("bad input on the wire", () => {
  const path = `/model/${encodeURIComponent(SONNET)}/converse-stream`;

  it("answers a corrupted body with a ValidationException and keeps serving", async () => {
    const res = await rawRequest(emulator.url, path, '{"messages": [{"role": "user", "content": [{"te', {
      authorization: FAKE_SIGV4,
    });
    expect(res.status).toBe(400);
    expect(String(res.headers["x-amzn-errortype"])).toMatch(/^ValidationException:/);
    expect(JSON.parse(res.body.toString()).message).toMatch(/Malformed input request/);

    const binary = await rawRequest(emulator.url, path, Buffer.from([0xff, 0x00, 0x13, 0x37]), {
      authorization: FAKE_SIGV4,
    });
    expect(binary.status).toBe(400);

    const { events } = await streamAll(client, hello());
    expect(streamedText(events)).not.toBe("");
  });

  it("refuses a request without a signature, and paths that are not Converse", async () => {
    const unsigned = await rawRequest(emulator.url, path, JSON.stringify({ messages: [] }));
    expect(unsigned.status).toBe(403);
    expect(String(unsigned.headers["x-amzn-errortype"])).toMatch(/^MissingAuthenticationTokenException/);

    const invoke = await rawRequest(emulator.url, `/model/${encodeURIComponent(SONNET)}/invoke`, "{}", {
      authorization: FAKE_SIGV4,
    });
    expect(invoke.status).toBe(404);
    expect(JSON.parse(invoke.body.toString()).message).toMatch(/Converse and ConverseStream only/);
  });

  it("stops generating when the client aborts mid-stream, and serves the next caller", async () => {
    const slow = await startBedrockEmulator({
      port: 0,
      profile: { default: { ttftMs: 0, ttftCacheHitMs: 0, tokensPerSecond: 20 } },
    });
    const slowClient = sdkClient(slow.url, { maxAttempts: 1 });
    try {
      const abort = new AbortController();
      const out = await slowClient.send(
        new ConverseStreamCommand(hello({ messages: [userText("Tell me about your pricing for whitening")] })),
        { abortSignal: abort.signal },
      );
      let deltas = 0;
      const iterate = (async () => {
        for await (const event of out.stream ?? []) {
          if (event.contentBlockDelta) {
            deltas++;
            abort.abort();
          }
        }
      })();
      // Depending on timing the SDK either throws AbortError or just ends the iteration.
      await iterate.catch(() => {});
      expect(deltas).toBeLessThan(3);
      await expect.poll(() => slow.requests()[0]?.aborted, { timeout: 5_000 }).toBe(true);
      expect(slow.requests()[0]?.error).toBeNull();

      const next = await streamAll(slowClient, hello({ messages: [userText("Hi")] }));
      expect(next.events.at(-1)?.metadata).toBeDefined();
    } finally {
      slowClient.destroy();
      await slow.close();
    }
  });
});

describe("out-of-process control", () => {
  it("injects faults, sets scripts and reads the request log over the emulator's own port", async () => {
    const control = controlBedrockEmulator(emulator.url);
    await control.setScript("remote", [{ text: "Scripted from afar." }]);
    await control.injectFault({ kind: "ThrottlingException", count: 1 });
    await expect(streamAll(client, hello())).rejects.toBeInstanceOf(ThrottlingException);
    const { events } = await streamAll(client, hello({ requestMetadata: { scriptTag: "remote" } }));
    expect(streamedText(events)).toBe("Scripted from afar.");

    const log = await control.requests();
    expect(log.map((r) => [r.error?.type ?? null, r.source])).toEqual([
      ["ThrottlingException", null],
      [null, "script"],
    ]);
    await expect(control.injectFault({ kind: "Nope" as "ThrottlingException", count: 1 })).rejects.toThrow(/kind/);

    const health = await fetch(`${emulator.url}/__emulator/health`);
    expect(await health.json()).toEqual({ ok: true });
  });
});
