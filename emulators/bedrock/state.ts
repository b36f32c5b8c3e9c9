// What a running Bedrock emulator holds between requests: injected faults, per-tag scripted replies, the log of
// requests as it saw and answered them, and the emulated prompt cache. The in-process handle and the /__emulator/
// control endpoints both act on this one state.
import { z } from "zod";
import type { CacheCheckpoint, PromptCache } from "./cache.ts";
import type { ResolvedModel } from "./models.ts";
import type { StopReason } from "./policy.ts";

// Bodies carry whole prompts; a long benchmark run must not grow without bound.
const MAX_RECORDS = 1_000;

export const FAULT_KINDS = [
  "ThrottlingException",
  "ServiceUnavailableException",
  "ModelNotReadyException",
  "InternalServerException",
  "ModelStreamErrorException",
  "ModelTimeoutException",
] as const;

export const FaultSchema = z.object({
  kind: z.enum(FAULT_KINDS),
  /** How many of the next matching requests fail. */
  count: z.number().int().min(1).max(1_000_000),
  /** Only requests for this model: an exact requested ID, or a base ID matching every profile of it. */
  modelId: z.string().min(1).optional(),
  /** Fail after the stream has started (ConverseStream), as an exception frame. Converse fails up front. */
  midStream: z.boolean().optional(),
});
export type BedrockFault = z.infer<typeof FaultSchema>;

export const FAULT_MESSAGES: Record<BedrockFault["kind"], string> = {
  ThrottlingException: "Too many requests, please wait before trying again.",
  ServiceUnavailableException: "Bedrock is unable to process your request.",
  ModelNotReadyException:
    "Model is not ready for inference. Wait and try your request again. Refer to the AWS documentation for more details.",
  InternalServerException: "The system encountered an unexpected error during processing. Try your request again.",
  ModelStreamErrorException: "The model stream was interrupted. Try your request again.",
  ModelTimeoutException: "Model has timed out in processing the request. Try your request again.",
};

/** In-stream members of ConverseStreamOutput; faults without their own member arrive as model stream errors. */
export const STREAM_EXCEPTION: Record<BedrockFault["kind"], { type: string; originalStatusCode?: number }> = {
  ThrottlingException: { type: "throttlingException" },
  ServiceUnavailableException: { type: "serviceUnavailableException" },
  InternalServerException: { type: "internalServerException" },
  ModelStreamErrorException: { type: "modelStreamErrorException", originalStatusCode: 500 },
  ModelNotReadyException: { type: "modelStreamErrorException", originalStatusCode: 429 },
  ModelTimeoutException: { type: "modelStreamErrorException", originalStatusCode: 408 },
};

export const ScriptedReplySchema = z.object({
  text: z.string().optional(),
  toolUses: z.array(z.object({ name: z.string().min(1).max(64), input: z.unknown() })).optional(),
  thinking: z.string().optional(),
  stopReason: z
    .enum([
      "end_turn",
      "tool_use",
      "max_tokens",
      "stop_sequence",
      "guardrail_intervened",
      "content_filtered",
      "malformed_model_output",
      "malformed_tool_use",
      "model_context_window_exceeded",
    ])
    .optional(),
});
export type ScriptedReply = z.infer<typeof ScriptedReplySchema>;

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  cacheReadInputTokens: number;
  cacheWriteInputTokens: number;
}

/** One request as the emulator saw and answered it. */
export interface RecordedRequest {
  requestId: string;
  operation: "Converse" | "ConverseStream";
  /** As sent in the path, URL-decoded. */
  modelId: string;
  /** Epoch milliseconds. */
  receivedAt: number;
  /** The parsed JSON body; null when it wasn't JSON. */
  body: unknown;
  scriptTag: string | null;
  lastUserText: string | null;
  /** Who wrote the reply; null when there was none (an error before the model). */
  source: "policy" | "script" | null;
  error: { type: string; message: string; midStream: boolean } | null;
  reply: {
    thinking: string | null;
    text: string;
    toolUses: { toolUseId: string; name: string; input: unknown }[];
    stopReason: StopReason;
  } | null;
  usage: TokenUsage | null;
  /** One entry per cache point, in prompt order. */
  cache: CacheCheckpoint[];
  /** Time to first token the latency profile applied. */
  ttftMs: number | null;
  cacheHit: boolean;
  /** The client went away before the reply was complete. */
  aborted: boolean;
}

export class EmulatorState {
  private faults: { fault: BedrockFault; remaining: number }[] = [];
  private readonly scripts = new Map<string, ScriptedReply[]>();
  private records: RecordedRequest[] = [];
  /** Replies being paced or streamed; closing the emulator aborts them. */
  readonly inFlight = new Set<AbortController>();

  constructor(readonly cache: PromptCache) {}

  injectFault(fault: BedrockFault): void {
    const parsed = FaultSchema.parse(fault);
    this.faults.push({ fault: parsed, remaining: parsed.count });
  }

  clearFaults(): void {
    this.faults = [];
  }

  setScript(tag: string, replies: ScriptedReply[]): void {
    this.scripts.set(tag, z.array(ScriptedReplySchema).parse(replies));
  }

  /** The first queued fault for this model with count left, counted down. */
  takeFault(model: ResolvedModel): BedrockFault | null {
    const entry = this.faults.find(
      ({ fault, remaining }) =>
        remaining > 0 &&
        (fault.modelId === undefined || fault.modelId === model.requestedId || fault.modelId === model.info.baseId),
    );
    if (!entry) return null;
    entry.remaining--;
    this.faults = this.faults.filter((f) => f.remaining > 0);
    return entry.fault;
  }

  takeScript(tag: string | null): ScriptedReply | null {
    if (tag === null) return null;
    const queue = this.scripts.get(tag);
    const next = queue?.shift();
    return next ?? null;
  }

  record(entry: RecordedRequest): RecordedRequest {
    this.records.push(entry);
    if (this.records.length > MAX_RECORDS) this.records = this.records.slice(-MAX_RECORDS);
    return entry;
  }

  /** Every request so far (a copy), oldest first. */
  requests(): RecordedRequest[] {
    return structuredClone(this.records);
  }

  reset(): void {
    this.faults = [];
    this.scripts.clear();
    this.records = [];
    this.cache.clear();
  }
}
