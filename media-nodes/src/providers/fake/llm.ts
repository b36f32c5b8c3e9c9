// Scripted language model for unit tests. Each stream() call plays the next script entry, so a test
// lays out a conversation turn by turn and then inspects `requests` to see what the pipeline sent.
import { LlmError, type LlmEvent, type LlmProvider, type LlmRequest } from "../types.ts";

export type FakeLlmTurn = LlmEvent[] | ((req: LlmRequest) => LlmEvent[] | AsyncIterable<LlmEvent>);

export interface FakeLlmOptions {
  /** Delay before the first event (time to first token). */
  ttftMs?: number;
  /** Delay between later events. */
  tokenDelayMs?: number;
}

function abortableDelay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0 && !signal?.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new LlmError("aborted", "request aborted"));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new LlmError("aborted", "request aborted"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export class FakeLlm implements LlmProvider {
  readonly name = "fake-llm";
  /** Every request received, in order (a shallow copy, so later history edits don't rewrite it). */
  readonly requests: LlmRequest[] = [];
  private next = 0;

  constructor(
    private readonly script: FakeLlmTurn[],
    private readonly opts: FakeLlmOptions = {},
  ) {}

  /** Script entries not yet played. */
  get remaining(): number {
    return this.script.length - this.next;
  }

  async *stream(request: LlmRequest): AsyncIterable<LlmEvent> {
    this.requests.push({ ...request, messages: structuredClone(request.messages) });
    const turn = this.script[this.next++];
    if (turn === undefined) {
      throw new LlmError("other", `fake LLM: script exhausted after ${this.script.length} turn(s)`);
    }
    const signal = request.signal;
    const source = typeof turn === "function" ? turn(request) : turn;
    let first = true;
    let sawStop = false;
    let sawUsage = false;
    let sawToolUse = false;
    const started = new Set<string>();
    for await (const event of source) {
      await abortableDelay(first ? (this.opts.ttftMs ?? 0) : (this.opts.tokenDelayMs ?? 0), signal);
      if (signal?.aborted) throw new LlmError("aborted", "request aborted");
      first = false;
      if (event.type === "stop") sawStop = true;
      if (event.type === "usage") sawUsage = true;
      if (event.type === "tool-use-start") started.add(event.id);
      if (event.type === "tool-use") {
        sawToolUse = true;
        // Like the real provider, every tool call is announced before its input is complete.
        if (!started.has(event.id)) yield { type: "tool-use-start", id: event.id, name: event.name };
      }
      // Like the real provider, usage names the model that answered and echoes the request's speculative flag.
      yield event.type === "usage"
        ? { ...event, modelId: request.modelId, speculative: request.speculative === true }
        : event;
    }
    if (signal?.aborted) throw new LlmError("aborted", "request aborted");
    // Real providers always end with stop then usage; the fake does too so pipelines can rely on it.
    if (!sawStop) yield { type: "stop", reason: sawToolUse ? "tool_use" : "end_turn" };
    if (!sawUsage) {
      yield {
        type: "usage",
        usage: { inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheWriteInputTokens: 0 },
        modelId: request.modelId,
        speculative: request.speculative === true,
      };
    }
  }

  /** Convenience: a text reply split into word-sized tokens, like a streaming model sends it. */
  static say(text: string): LlmEvent[] {
    const tokens = text.match(/\S+\s*/g) ?? [];
    return [...tokens.map((t) => ({ type: "text" as const, text: t })), { type: "stop", reason: "end_turn" }];
  }
}
