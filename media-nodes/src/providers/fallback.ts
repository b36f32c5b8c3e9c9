// Resilience around the providers, each a decorator with the interface of what it wraps: retries and model
// fallback for the LLM, voice fallback for TTS, and (stt-recovery.ts) a fresh recognizer with the unconfirmed
// audio replayed when STT drops or stalls. One rule for all: never make the caller hear something twice that
// the pipeline already played unless there is no other way to finish the sentence.
import {
  LlmError,
  type LlmEvent,
  type LlmProvider,
  type LlmRequest,
  type TtsEvent,
  type TtsOptions,
  type TtsProvider,
  type TtsSession,
} from "./types.ts";

export { type ResilientSttSession, type SttRecoveryOptions, sttWithRecovery } from "./stt-recovery.ts";

// ── LLM ──────────────────────────────────────────────────────────────────────────────────────────

export interface LlmFallbackOptions {
  /** Retries of one model before moving to the next. Default 2. */
  retries?: number;
  /** First retry delay, doubled each retry and jittered. Default 100. */
  backoffMs?: number;
  /** Told about every failed attempt that will be retried or fallen back from (metrics, logs). */
  onAttemptFailed?: (info: {
    modelId: string;
    /** Absent for the node's own region. */
    region?: string;
    attempt: number;
    error: LlmError;
    next: "retry" | "fallback";
  }) => void;
}

export type LlmFallbackEvent = LlmEvent & { modelId?: string; region?: string };

/** Another region to try, with the model IDs to try there. */
export interface LlmRegionRoute {
  region: string;
  modelIds: string[];
}

function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
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

function asLlmError(error: unknown): LlmError {
  if (error instanceof LlmError) return error;
  return new LlmError("other", error instanceof Error ? error.message : String(error), { cause: error });
}

/**
 * Streams from the first route that answers: each model ID in the node's own region (retried with
 * backoff while it throttles or is unavailable), then each fallback region's model IDs the same way.
 */
export function llmWithFallback(
  provider: LlmProvider,
  opts: LlmFallbackOptions = {},
): {
  stream(request: LlmRequest, modelIds: string[], fallbackRegions?: LlmRegionRoute[]): AsyncIterable<LlmFallbackEvent>;
} {
  const retries = opts.retries ?? 2;
  const backoffMs = opts.backoffMs ?? 100;
  return {
    async *stream(request, modelIds, fallbackRegions = []) {
      const routes: { region: string | undefined; modelId: string }[] = [
        ...modelIds.map((modelId) => ({ region: undefined, modelId })),
        ...fallbackRegions.flatMap((r) => r.modelIds.map((modelId) => ({ region: r.region, modelId }))),
      ];
      if (routes.length === 0) throw new LlmError("invalid-request", "no model IDs to try");
      let lastError: LlmError | undefined;
      for (let m = 0; m < routes.length; m++) {
        const { region, modelId } = routes[m]!;
        for (let attempt = 0; attempt <= retries; attempt++) {
          if (attempt > 0) {
            const base = backoffMs * 2 ** (attempt - 1);
            await abortableSleep(base / 2 + Math.random() * base, request.signal);
          }
          let emitted = false;
          try {
            const routed = region === undefined ? { ...request, modelId } : { ...request, modelId, region };
            for await (const event of provider.stream(routed)) {
              emitted = true;
              yield region === undefined ? { ...event, modelId } : { ...event, modelId, region };
            }
            return;
          } catch (error) {
            const err = asLlmError(error);
            // Once anything reached the caller, a replay would repeat it: the pipeline handles the failure.
            if (emitted || !err.retryable) throw err;
            lastError = err;
            const next = attempt < retries ? "retry" : "fallback";
            if (next === "fallback" && m === routes.length - 1) break;
            opts.onAttemptFailed?.({ modelId, ...(region ? { region } : {}), attempt, error: err, next });
          }
        }
      }
      throw lastError ?? new LlmError("unavailable", "every model failed");
    },
  };
}

// ── TTS ──────────────────────────────────────────────────────────────────────────────────────────

export interface TtsFallbackOptions {
  /** Voice used when the requested one fails to open or dies mid-speech. */
  fallbackVoice: string;
  /** Provider for the fallback voice; default the same provider. */
  fallbackProvider?: TtsProvider;
  onFallback?: (info: { fromVoice: string; toVoice: string; reason: string }) => void;
}

type Op = { kind: "speak"; text: string } | { kind: "flush"; id: number };

/**
 * Opens the requested voice; if that fails, or the session dies while speaking, reopens with the
 * fallback voice and re-speaks the text not yet confirmed sent (since the last completed flush), so the
 * sentence the caller was hearing is finished rather than dropped.
 *
 * Sequence IDs this session reports are its own: one counter shared by flush() and clear() calls, so
 * they stay stable across a voice switch. Flushed events confirm flushes in call order.
 */
export function ttsWithFallback(primary: TtsProvider, opts: TtsFallbackOptions): TtsProvider {
  const fallbackProvider = opts.fallbackProvider ?? primary;
  const candidates = (voice: string): { provider: TtsProvider; voice: string }[] => {
    const list = [{ provider: primary, voice }];
    if (opts.fallbackVoice !== voice || fallbackProvider !== primary) {
      list.push({ provider: fallbackProvider, voice: opts.fallbackVoice });
    }
    return list;
  };
  return {
    name: `${primary.name}+fallback`,
    async open(options, onEvent) {
      const session = new FallbackTtsSession(candidates(options.voice), options, onEvent, opts.onFallback);
      await session.start();
      return session;
    },
    async synthesize(text, options) {
      const list = candidates(options.voice);
      let lastError: unknown;
      for (let i = 0; i < list.length; i++) {
        const c = list[i]!;
        try {
          return await c.provider.synthesize(text, { ...options, voice: c.voice });
        } catch (error) {
          lastError = error;
          const next = list[i + 1];
          if (next) opts.onFallback?.({ fromVoice: c.voice, toVoice: next.voice, reason: String(error) });
        }
      }
      throw lastError;
    },
  };
}

class FallbackTtsSession implements TtsSession {
  private inner: TtsSession | null = null;
  private index = 0;
  /** Ops since the last confirmed flush: what a replacement session must redo. */
  private log: Op[] = [];
  private sequence = 0;
  private closedByUs = false;
  private dead = false;
  private switching: Promise<void> | null = null;
  /** Each inner session gets a token so late events from a replaced one are ignored. */
  private innerToken = 0;
  /** Token of the last inner session that reported closed (it may die while we are still opening it). */
  private closedToken = -1;

  constructor(
    private readonly candidates: { provider: TtsProvider; voice: string }[],
    private readonly options: TtsOptions,
    private readonly onEvent: (event: TtsEvent) => void,
    private readonly onFallback: TtsFallbackOptions["onFallback"],
  ) {}

  /** Opens the first candidate that works; throws if none does. */
  async start(): Promise<void> {
    let lastError: unknown;
    for (; this.index < this.candidates.length; this.index++) {
      try {
        await this.openCandidate();
        if (this.closedToken === this.innerToken) throw new Error("the voice's session closed as it opened");
        return;
      } catch (error) {
        lastError = error;
        this.reportFallback(String(error));
      }
    }
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  speak(text: string): void {
    if (this.dead || this.closedByUs) return;
    this.log.push({ kind: "speak", text });
    if (!this.switching) this.inner?.speak(text);
  }

  flush(): void {
    if (this.dead || this.closedByUs) return;
    const id = this.sequence++;
    this.log.push({ kind: "flush", id });
    if (!this.switching) this.inner?.flush();
  }

  clear(): void {
    if (this.dead || this.closedByUs) return;
    const id = this.sequence++;
    this.log = [];
    if (!this.switching) this.inner?.clear();
    // Confirmed by us: the inner clear is fire-and-forget, and after a switch there is nothing to clear.
    queueMicrotask(() => {
      if (!this.dead) this.onEvent({ type: "cleared", sequenceId: id });
    });
  }

  async close(): Promise<void> {
    if (this.closedByUs || this.dead) return;
    this.closedByUs = true;
    const inner = this.inner;
    this.inner = null;
    await inner?.close();
    this.dead = true;
    this.onEvent({ type: "closed", code: 1000, reason: "closed by client" });
  }

  private reportFallback(reason: string): void {
    const from = this.candidates[this.index];
    const to = this.candidates[this.index + 1];
    if (from && to) this.onFallback?.({ fromVoice: from.voice, toVoice: to.voice, reason });
  }

  private async openCandidate(): Promise<void> {
    const c = this.candidates[this.index];
    if (!c) throw new Error("no voice left");
    const token = ++this.innerToken;
    this.inner = await c.provider.open({ ...this.options, voice: c.voice }, (event) => this.onInner(token, event));
  }

  private onInner(token: number, event: TtsEvent): void {
    if (token !== this.innerToken || this.dead) return;
    switch (event.type) {
      case "audio":
        this.onEvent(event);
        return;
      case "flushed": {
        // Confirms the oldest flush not yet confirmed; everything up to it needs no replay.
        const at = this.log.findIndex((op) => op.kind === "flush");
        if (at < 0) return;
        const op = this.log[at] as { kind: "flush"; id: number };
        this.log = this.log.slice(at + 1);
        this.onEvent({ type: "flushed", sequenceId: op.id });
        return;
      }
      case "cleared":
        // Reported by clear() already.
        return;
      case "closed":
        this.closedToken = token;
        if (this.closedByUs) return;
        this.inner = null;
        // While switching, the switch loop sees the dead session and moves on itself.
        if (!this.switching) this.failover(`${event.code} ${event.reason}`);
        return;
    }
  }

  private failover(reason: string): void {
    if (this.switching) return;
    this.switching = (async () => {
      let lastReason = reason;
      while (this.index + 1 < this.candidates.length) {
        this.reportFallback(lastReason);
        this.index++;
        try {
          await this.openCandidate();
          if (this.closedByUs) {
            await this.inner?.close();
            return;
          }
          if (this.closedToken === this.innerToken) {
            lastReason = "the fallback voice's session closed as it opened";
            continue;
          }
          this.switching = null;
          for (const op of this.log) {
            if (op.kind === "speak") this.inner?.speak(op.text);
            else this.inner?.flush();
          }
          return;
        } catch (error) {
          lastReason = String(error);
        }
      }
      this.switching = null;
      this.dead = true;
      this.onEvent({ type: "closed", code: 1011, reason: `every voice failed; last: ${lastReason}` });
    })();
  }
}
