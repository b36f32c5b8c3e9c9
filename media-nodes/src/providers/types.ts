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

/** Why a recogniser ended a turn: its model, our finalize() (Flux ForceEndTurn), or its silence timeout. */
export type SttTurnTrigger = "model" | "manual" | "timeout" | (string & {});

export type SttEvent =
  | { type: "interim"; text: string; words: SttWord[] }
  /**
   * A final transcript of a segment. `speechFinal` marks the vendor's end-of-utterance (endpointing). A recogniser
   * with semantic turns (Flux) sends one final per turn, right after its `turn-ended`, with `speechFinal: true`.
   */
  | { type: "final"; text: string; words: SttWord[]; speechFinal: boolean; fromFinalize: boolean; confidence: number }
  | { type: "speech-started"; timestamp: number }
  /** The vendor saw a gap of `utterance_end_ms` after the last word. */
  | { type: "utterance-end"; lastWordEnd: number }
  /** The session died. The pipeline decides whether to reopen and resend. */
  | { type: "closed"; code: number; reason: string }
  // ── Turn events: only from sessions whose `turnDetection` is "semantic" (Flux). `turnIndex` counts the call's
  // turns from 0 and survives reconnects. Order within a turn: turn-started, then any number of
  // (turn-eager-end, turn-resumed) pairs, then at most one more turn-eager-end, then turn-ended.
  /** The caller began a new turn: the barge-in signal. `timestamp` is stream seconds where the speech began. */
  | { type: "turn-started"; turnIndex: number; text: string; timestamp: number }
  /**
   * Moderate confidence the turn is over (only when an eager threshold is set): start a speculative reply to
   * `text`. If no `turn-resumed` follows, the `turn-ended` text is exactly this text.
   */
  | { type: "turn-eager-end"; turnIndex: number; text: string; words: SttWord[]; confidence: number }
  /** The caller went on after `turn-eager-end`: drop what was prepared for it. */
  | { type: "turn-resumed"; turnIndex: number; text: string }
  /** The turn is over: commit (or start) the reply to `text`. Empty `text` only for a finalize() with nothing said. */
  | {
      type: "turn-ended";
      turnIndex: number;
      text: string;
      words: SttWord[];
      confidence: number;
      trigger: SttTurnTrigger;
    };

/**
 * Semantic end-of-turn thresholds (Flux). `eagerEotThreshold` 0.3–0.9 (null: no eager events), `eotThreshold`
 * 0.5–0.9 and at least the eager one, `eotTimeoutMs` 500–10 000: the longest silence before a turn ends regardless.
 */
export interface TurnThresholds {
  eagerEotThreshold: number | null;
  eotThreshold: number;
  eotTimeoutMs: number;
}

export const TURN_THRESHOLD_LIMITS = {
  eagerEotThreshold: { min: 0.3, max: 0.9 },
  eotThreshold: { min: 0.5, max: 0.9 },
  eotTimeoutMs: { min: 500, max: 10_000 },
} as const;

export interface SttOptions {
  encoding: "mulaw" | "linear16";
  sampleRate: number;
  language: string;
  endpointingMs: number;
  utteranceEndMs: number;
  keyterms?: string[];
  /** Opaque tag the vendor echoes; we send the call ID. */
  tag?: string;
  /** Which recogniser, where a provider offers both (see deepgramRecognizers). Default "nova-3". */
  recognizer?: "flux" | "nova-3";
  /** Semantic turn thresholds at open; used by Flux, ignored by endpointing recognisers. */
  turn?: TurnThresholds;
}

export interface SttSession {
  /**
   * Never blocks; the session buffers while the socket (re)connects. Any chunking is accepted (20 ms
   * frames or longer batches). The caller may reuse `audio` once this returns: copy what you keep.
   */
  sendAudio(audio: Uint8Array): void;
  /**
   * Ask the vendor to flush what it has heard as a final now. On Flux this ends the turn (ForceEndTurn): a
   * `turn-ended` with trigger "manual" and a final with `fromFinalize: true`.
   */
  finalize(): void;
  /**
   * "semantic": the recogniser decides turns and sends turn-* events (Flux). "endpointing": it only reports
   * silence-based finals (Nova-3); the pipeline decides turns (and checks the words for completeness) itself.
   */
  readonly turnDetection: "semantic" | "endpointing";
  /**
   * Changes turn thresholds mid-stream (only the fields given), e.g. raised while the caller reads out a number.
   * Resolves with the thresholds now in force, or null when the recogniser has none (Nova-3). Rejects when the
   * values are out of range or the vendor refuses them; the old thresholds then stay in force.
   */
  configure(thresholds: Partial<TurnThresholds>): Promise<TurnThresholds | null>;
  /**
   * The audio this session keeps for resending after a drop (not yet covered by a result), oldest first, as views
   * valid until the next `sendAudio`. A session that offers this and `releaseHeld` is the call's only copy: STT
   * recovery replays from it instead of keeping one of its own.
   */
  heldAudio?(): Uint8Array[];
  /** Keep at most the newest `keepBytes` of the held audio (the caller is silent and what they said was answered). */
  releaseHeld?(keepBytes: number): void;
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
