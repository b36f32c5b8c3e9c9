// Provider interfaces of the voice loop. Each vendor lives in its own folder beside this file
// (deepgram/, bedrock/) and a scripted fake of each lives in fake/. The pipeline only sees these types,
// so swapping a vendor, or falling back to another, never touches the pipeline.
//
// Audio at these boundaries is μ-law 8 kHz mono (what telephony carries) unless an option says otherwise.
// Times are milliseconds.

// ── Speech to text ───────────────────────────────────────────────────────────────────────────────

export interface SttWord {
  word: string;
  /** Seconds from the start of the stream, as the vendor reports them. */
  start: number;
  end: number;
  confidence: number;
}

export type SttEvent =
  | { type: "interim"; text: string; words: SttWord[] }
  /** A final transcript of a segment. `speechFinal` marks the vendor's end-of-utterance (endpointing). */
  | { type: "final"; text: string; words: SttWord[]; speechFinal: boolean; fromFinalize: boolean; confidence: number }
  | { type: "speech-started"; timestamp: number }
  /** The vendor saw a gap of `utterance_end_ms` after the last word. */
  | { type: "utterance-end"; lastWordEnd: number }
  /** The session died. The pipeline decides whether to reopen and resend. */
  | { type: "closed"; code: number; reason: string };

export interface SttOptions {
  encoding: "mulaw" | "linear16";
  sampleRate: number;
  language: string;
  endpointingMs: number;
  utteranceEndMs: number;
  keyterms?: string[];
  /** Opaque tag the vendor echoes; we send the call ID. */
  tag?: string;
}

export interface SttSession {
  /**
   * Never blocks; the session buffers while the socket (re)connects. Any chunking is accepted (20 ms
   * frames or longer batches). The caller may reuse `audio` once this returns: copy what you keep.
   */
  sendAudio(audio: Uint8Array): void;
  /** Ask the vendor to flush what it has heard as a final now. */
  finalize(): void;
  close(): Promise<void>;
}

export interface SttProvider {
  readonly name: string;
  open(options: SttOptions, onEvent: (event: SttEvent) => void): Promise<SttSession>;
}

// ── Language model ───────────────────────────────────────────────────────────────────────────────

/**
 * A block of extended-thinking reasoning. Never spoken. When thinking is on, Claude requires the assistant
 * turn that holds a tool-use to start with its reasoning block, sent back unchanged (signature included),
 * so the conversation keeps it in history.
 */
export interface ThinkingContent {
  type: "thinking";
  text: string;
  signature?: string;
  /** Reasoning the vendor encrypted; opaque, passed back as is. */
  redactedContent?: string;
}

export type ChatContent =
  | { type: "text"; text: string }
  | ThinkingContent
  | { type: "tool-use"; id: string; name: string; input: unknown }
  | { type: "tool-result"; toolUseId: string; content: unknown; isError?: boolean };

export interface ChatMessage {
  role: "user" | "assistant";
  content: ChatContent[];
}

export interface ToolSpec {
  name: string;
  description: string;
  /** JSON Schema of the input object. */
  inputSchema: Record<string, unknown>;
}

export interface LlmRequest {
  modelId: string;
  /** The vendor region to ask (a fallback region); absent: the provider's own. */
  region?: string;
  /**
   * The agent's static prefix (system prompt and tool specs), byte-identical across calls.
   * Providers that support prompt caching put a cache point right after it.
   */
  system: string;
  tools: ToolSpec[];
  messages: ChatMessage[];
  maxTokens: number;
  temperature?: number;
  /** Extended thinking budget, 1024..64000 tokens. Absent: no thinking. */
  thinkingBudgetTokens?: number;
  /** Opaque string tags the vendor logs with the request (Bedrock `requestMetadata`), e.g. the call ID. */
  metadata?: Record<string, string>;
  /** Started before the caller finished (on a likely end of turn); its usage is metered apart. */
  speculative?: boolean;
  signal?: AbortSignal;
}

export interface LlmUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens: number;
  cacheWriteInputTokens: number;
}

export type LlmStopReason = "end_turn" | "tool_use" | "max_tokens" | "stop_sequence" | "other";

export type LlmEvent =
  | { type: "text"; text: string }
  /** Reasoning text. Never spoken. */
  | { type: "thinking"; text: string }
  /** A finished reasoning block (after its `thinking` deltas): append it to the assistant message as is. */
  | { type: "thinking-block"; block: ThinkingContent }
  /**
   * The model has begun a tool call; its input is still streaming. The first sign a tool is needed:
   * the pipeline starts the acknowledgement here rather than when the whole call (`tool-use`) arrives.
   */
  | { type: "tool-use-start"; id: string; name: string }
  | { type: "tool-use"; id: string; name: string; input: unknown }
  | { type: "stop"; reason: LlmStopReason }
  /**
   * The request's token usage, from the model's own metadata. `modelId` is the model that answered and
   * `speculative` echoes the request's flag, so a meter can price and separate it without knowing the request.
   */
  | { type: "usage"; usage: LlmUsage; latencyMs?: number; modelId?: string; speculative?: boolean };

/** Errors a provider throws carry a kind so the caller can pick retry, fallback or give up. */
export type LlmErrorKind = "throttled" | "unavailable" | "invalid-request" | "aborted" | "other";

export class LlmError extends Error {
  constructor(
    readonly kind: LlmErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "LlmError";
  }
  get retryable(): boolean {
    return this.kind === "throttled" || this.kind === "unavailable";
  }
}

export interface LlmProvider {
  readonly name: string;
  stream(request: LlmRequest): AsyncIterable<LlmEvent>;
}

// ── Text to speech ───────────────────────────────────────────────────────────────────────────────

export interface TtsOptions {
  voice: string;
  encoding: "mulaw" | "linear16";
  sampleRate: number;
}

export type TtsEvent =
  | { type: "audio"; audio: Uint8Array }
  /** Everything spoken before the flush with this sequence ID has been sent. */
  | { type: "flushed"; sequenceId: number }
  | { type: "cleared"; sequenceId: number }
  | { type: "closed"; code: number; reason: string };

export interface TtsSession {
  speak(text: string): void;
  flush(): void;
  /** Drop everything queued and not yet sent. */
  clear(): void;
  close(): Promise<void>;
}

export interface TtsProvider {
  readonly name: string;
  open(options: TtsOptions, onEvent: (event: TtsEvent) => void): Promise<TtsSession>;
  /** One-shot synthesis (REST), used to pre-synthesize acknowledgements. */
  synthesize(text: string, options: TtsOptions): Promise<Uint8Array>;
}
