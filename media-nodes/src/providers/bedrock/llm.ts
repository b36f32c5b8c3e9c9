// Claude on AWS Bedrock through the official client's ConverseStream.
//
// Prompt caching: the agent's static prefix (system prompt, tool specs) is sent byte-identical on every
// turn of every call, with a cache point after the system prompt and another after the tool specs.
// Anything that varies per call or per turn lives in `messages`, after both cache points, so it never
// breaks the cached prefix.
import {
  BedrockRuntimeClient,
  type ContentBlock,
  ConverseStreamCommand,
  type ConverseStreamCommandInput,
  type Message,
  type SystemContentBlock,
  type Tool,
  type ToolResultContentBlock,
  type ToolUseBlock,
} from "@aws-sdk/client-bedrock-runtime";
import { THINKING_MAX_TOKENS, THINKING_MIN_TOKENS } from "../../../../shared/model-policy.ts";
import {
  type ChatContent,
  type ChatMessage,
  LlmError,
  type LlmErrorKind,
  type LlmEvent,
  type LlmProvider,
  type LlmRequest,
  type LlmStopReason,
  type ThinkingContent,
} from "../types.ts";

/** Any JSON value, as the client types it. */
type DocumentType = NonNullable<ToolUseBlock["input"]>;

export interface BedrockLlmOptions {
  /** The node's own region: requests that name none go here. */
  region: string;
  /** Override the endpoint (an emulator, a VPC endpoint), for every region without its own below. */
  endpoint?: string;
  /** Endpoint per region (fallback regions on emulators or VPC endpoints). */
  endpoints?: Record<string, string>;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export { THINKING_MAX_TOKENS, THINKING_MIN_TOKENS };

/** Largest output any current Claude model on Bedrock accepts. */
const MAX_OUTPUT_TOKENS = 64_000;
/** Bedrock rejects a conversation that opens with the assistant; a call where the agent greets first does. */
export const CALL_CONNECTED_NOTE = "(The call has connected.)";

export interface BedrockLlm extends LlmProvider {
  /** Regions a client has been created for, in creation order. */
  readonly clientRegions: readonly string[];
}

export function bedrockLlm(opts: BedrockLlmOptions): BedrockLlm {
  // One client per region, made on first use and kept: a client holds the region's connection pool, so
  // a fallback region costs a TLS handshake once, not on every turn.
  const clients = new Map<string, BedrockRuntimeClient>();
  const clientFor = (region: string): BedrockRuntimeClient => {
    let client = clients.get(region);
    if (!client) {
      const endpoint = opts.endpoints?.[region] ?? opts.endpoint;
      client = new BedrockRuntimeClient({
        region,
        ...(endpoint ? { endpoint } : {}),
        ...(opts.credentials ? { credentials: opts.credentials } : {}),
        // Retrying is the caller's choice (llmWithFallback): it knows whether text was already spoken.
        maxAttempts: 1,
      });
      clients.set(region, client);
    }
    return client;
  };
  return {
    name: "bedrock",
    get clientRegions() {
      return [...clients.keys()];
    },
    stream: (request) => streamTurn(clientFor(request.region ?? opts.region), request),
  };
}

/** Thinking budget and maxTokens as Bedrock accepts them: budget in 1024..64000 and below maxTokens. */
export function thinkingLimits(maxTokens: number, budgetTokens: number): { maxTokens: number; budgetTokens: number } {
  let budget = Math.min(THINKING_MAX_TOKENS, Math.max(THINKING_MIN_TOKENS, Math.round(budgetTokens)));
  let max = maxTokens;
  // maxTokens covers thinking and answer together; keep the answer's own allowance on top of the budget.
  if (max <= budget) max = Math.min(MAX_OUTPUT_TOKENS, budget + maxTokens);
  if (budget >= max) budget = max - 1;
  return { maxTokens: max, budgetTokens: budget };
}

export function buildConverseInput(request: LlmRequest): ConverseStreamCommandInput {
  const system: SystemContentBlock[] = [{ text: request.system }, { cachePoint: { type: "default" } }];
  const input: ConverseStreamCommandInput = {
    modelId: request.modelId,
    system,
    messages: toBedrockMessages(request.messages, wantsThinking(request)),
    inferenceConfig: { maxTokens: request.maxTokens },
  };
  if (request.tools.length > 0) {
    const tools: Tool[] = request.tools.map((t) => ({
      toolSpec: { name: t.name, description: t.description, inputSchema: { json: t.inputSchema as DocumentType } },
    }));
    tools.push({ cachePoint: { type: "default" } });
    input.toolConfig = { tools };
  }
  if (wantsThinking(request) && request.thinkingBudgetTokens !== undefined) {
    const limits = thinkingLimits(request.maxTokens, request.thinkingBudgetTokens);
    input.inferenceConfig = { maxTokens: limits.maxTokens };
    input.additionalModelRequestFields = { thinking: { type: "enabled", budget_tokens: limits.budgetTokens } };
  } else if (request.temperature !== undefined) {
    // Claude rejects temperature with thinking on, so it is only sent without.
    input.inferenceConfig = { ...input.inferenceConfig, temperature: request.temperature };
  }
  if (request.metadata && Object.keys(request.metadata).length > 0) input.requestMetadata = request.metadata;
  return input;
}

/**
 * Thinking is used only when the request asks for it and the history allows it: mid tool loop, Claude
 * requires the assistant turn holding the tool-use to start with its reasoning block. If that turn was
 * produced without thinking, this continuation runs without thinking rather than failing the call.
 */
function wantsThinking(request: LlmRequest): boolean {
  if (!request.thinkingBudgetTokens || request.thinkingBudgetTokens <= 0) return false;
  const messages = request.messages;
  const last = messages[messages.length - 1];
  if (last?.role === "user" && last.content.some((c) => c.type === "tool-result")) {
    for (let i = messages.length - 2; i >= 0; i--) {
      const m = messages[i]!;
      if (m.role === "assistant" && m.content.some((c) => c.type === "tool-use")) {
        return m.content[0]?.type === "thinking";
      }
    }
  }
  return true;
}

function toolResultContent(content: unknown): ToolResultContentBlock[] {
  if (typeof content === "string") return [{ text: content.length > 0 ? content : "(empty)" }];
  if (content !== null && typeof content === "object" && !Array.isArray(content)) {
    return [{ json: content as DocumentType }];
  }
  return [{ json: { result: (content ?? null) as DocumentType } }];
}

function base64ToBytes(b64: string): Uint8Array {
  return new Uint8Array(Buffer.from(b64, "base64"));
}

function toBedrockBlock(c: ChatContent, keepThinking: boolean): ContentBlock | null {
  switch (c.type) {
    case "text":
      // Bedrock rejects empty text blocks; a barge-in can leave one behind.
      return c.text.trim().length > 0 ? { text: c.text } : null;
    case "thinking":
      if (!keepThinking) return null;
      if (c.redactedContent !== undefined)
        return { reasoningContent: { redactedContent: base64ToBytes(c.redactedContent) } };
      return {
        reasoningContent: { reasoningText: { text: c.text, ...(c.signature ? { signature: c.signature } : {}) } },
      };
    case "tool-use":
      return { toolUse: { toolUseId: c.id, name: c.name, input: (c.input ?? {}) as DocumentType } };
    case "tool-result":
      return {
        toolResult: {
          toolUseId: c.toolUseId,
          content: toolResultContent(c.content),
          status: c.isError ? "error" : "success",
        },
      };
  }
}

/**
 * Bedrock wants a conversation that starts with the user and alternates roles, with no empty turns.
 * Our history can break all three (the agent greets first, a barge-in empties a turn, two caller
 * utterances arrive back to back), so it is normalized here rather than trusted.
 */
export function toBedrockMessages(messages: ChatMessage[], keepThinking: boolean): Message[] {
  const out: Message[] = [];
  for (const m of messages) {
    const blocks = m.content.map((c) => toBedrockBlock(c, keepThinking)).filter((b): b is ContentBlock => b !== null);
    if (blocks.length === 0) continue;
    const prev = out[out.length - 1];
    if (prev && prev.role === m.role) prev.content = [...(prev.content ?? []), ...blocks];
    else out.push({ role: m.role, content: blocks });
  }
  if (out[0]?.role === "assistant") out.unshift({ role: "user", content: [{ text: CALL_CONNECTED_NOTE }] });
  return out;
}

const STOP_REASONS: Record<string, LlmStopReason> = {
  end_turn: "end_turn",
  tool_use: "tool_use",
  max_tokens: "max_tokens",
  stop_sequence: "stop_sequence",
};

const ERROR_KINDS: Record<string, LlmErrorKind> = {
  ThrottlingException: "throttled",
  throttlingException: "throttled",
  ModelNotReadyException: "throttled",
  ServiceQuotaExceededException: "throttled",
  ServiceUnavailableException: "unavailable",
  serviceUnavailableException: "unavailable",
  InternalServerException: "unavailable",
  internalServerException: "unavailable",
  ModelTimeoutException: "unavailable",
  ModelStreamErrorException: "unavailable",
  modelStreamErrorException: "unavailable",
  // The model isn't available to this account or region: the next model in the policy may be.
  AccessDeniedException: "unavailable",
  ResourceNotFoundException: "unavailable",
  ValidationException: "invalid-request",
  validationException: "invalid-request",
  ModelErrorException: "other",
};

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ERR_HTTP2_STREAM_ERROR",
  "ERR_HTTP2_SESSION_ERROR",
  "ERR_HTTP2_GOAWAY_SESSION",
  "ERR_HTTP2_STREAM_CANCEL",
]);

export function toLlmError(error: unknown, signal?: AbortSignal): LlmError {
  if (error instanceof LlmError) return error;
  const e = error as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const message = e?.message ?? String(error);
  if (signal?.aborted || e?.name === "AbortError") return new LlmError("aborted", "request aborted", { cause: error });
  const byName = e?.name ? ERROR_KINDS[e.name] : undefined;
  if (byName) return new LlmError(byName, `${e.name}: ${message}`, { cause: error });
  if (e?.code && NETWORK_CODES.has(e.code))
    return new LlmError("unavailable", `${e.code}: ${message}`, { cause: error });
  const status = e?.$metadata?.httpStatusCode;
  if (status === 429) return new LlmError("throttled", message, { cause: error });
  if (status !== undefined && status >= 500) return new LlmError("unavailable", message, { cause: error });
  if (status !== undefined && status >= 400) return new LlmError("invalid-request", message, { cause: error });
  return new LlmError("other", message, { cause: error });
}

async function* streamTurn(client: BedrockRuntimeClient, request: LlmRequest): AsyncIterable<LlmEvent> {
  const signal = request.signal;
  if (signal?.aborted) throw new LlmError("aborted", "request aborted");
  const input = buildConverseInput(request);
  let stream: AsyncIterable<import("@aws-sdk/client-bedrock-runtime").ConverseStreamOutput> | undefined;
  try {
    const out = await client.send(new ConverseStreamCommand(input), signal ? { abortSignal: signal } : {});
    stream = out.stream;
  } catch (error) {
    throw toLlmError(error, signal);
  }
  if (!stream) throw new LlmError("unavailable", "Bedrock returned no event stream");

  const tools = new Map<number, { id: string; name: string; json: string }>();
  const reasoning = new Map<number, ThinkingContent>();
  try {
    for await (const ev of stream) {
      if (signal?.aborted) throw new LlmError("aborted", "request aborted");
      if (ev.contentBlockStart?.start?.toolUse) {
        const t = ev.contentBlockStart.start.toolUse;
        const call = { id: t.toolUseId ?? "", name: t.name ?? "", json: "" };
        tools.set(ev.contentBlockStart.contentBlockIndex ?? 0, call);
        yield { type: "tool-use-start", id: call.id, name: call.name };
      } else if (ev.contentBlockDelta) {
        const index = ev.contentBlockDelta.contentBlockIndex ?? 0;
        const delta = ev.contentBlockDelta.delta;
        if (delta?.text !== undefined) {
          if (delta.text.length > 0) yield { type: "text", text: delta.text };
        } else if (delta?.toolUse) {
          const t = tools.get(index);
          if (t) t.json += delta.toolUse.input ?? "";
        } else if (delta?.reasoningContent) {
          const block = reasoning.get(index) ?? { type: "thinking" as const, text: "" };
          reasoning.set(index, block);
          const r = delta.reasoningContent;
          if (r.text !== undefined) {
            block.text += r.text;
            if (r.text.length > 0) yield { type: "thinking", text: r.text };
          } else if (r.signature !== undefined) {
            block.signature = (block.signature ?? "") + r.signature;
          } else if (r.redactedContent !== undefined) {
            block.redactedContent = Buffer.from(r.redactedContent).toString("base64");
          }
        }
      } else if (ev.contentBlockStop) {
        const index = ev.contentBlockStop.contentBlockIndex ?? 0;
        const t = tools.get(index);
        if (t) {
          tools.delete(index);
          yield { type: "tool-use", id: t.id, name: t.name, input: parseToolInput(t.json, t.name) };
        }
        const r = reasoning.get(index);
        if (r) {
          reasoning.delete(index);
          yield { type: "thinking-block", block: r };
        }
      } else if (ev.messageStop) {
        yield { type: "stop", reason: STOP_REASONS[ev.messageStop.stopReason ?? ""] ?? "other" };
      } else if (ev.metadata) {
        const u = ev.metadata.usage;
        yield {
          type: "usage",
          usage: {
            inputTokens: u?.inputTokens ?? 0,
            outputTokens: u?.outputTokens ?? 0,
            cacheReadInputTokens: u?.cacheReadInputTokens ?? 0,
            cacheWriteInputTokens: u?.cacheWriteInputTokens ?? 0,
          },
          ...(ev.metadata.metrics?.latencyMs !== undefined ? { latencyMs: ev.metadata.metrics.latencyMs } : {}),
          modelId: request.modelId,
          speculative: request.speculative === true,
        };
      } else {
        const exception =
          ev.internalServerException ??
          ev.modelStreamErrorException ??
          ev.validationException ??
          ev.throttlingException ??
          ev.serviceUnavailableException;
        if (exception) throw exception;
      }
    }
  } catch (error) {
    throw toLlmError(error, signal);
  }
}

function parseToolInput(json: string, name: string): unknown {
  if (json.trim().length === 0) return {};
  try {
    return JSON.parse(json);
  } catch (error) {
    throw new LlmError("other", `tool ${name}: the model sent input that is not JSON`, { cause: error });
  }
}
