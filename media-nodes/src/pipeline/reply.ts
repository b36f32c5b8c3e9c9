// One agent reply (livekit's SpeechHandle): the answer to one caller turn, or the greeting. It has an explicit
// state, its own AbortController and its latency waterfall, and it is interrupted through `interrupt(reason)`.
// What it produces comes from `rounds()` (reply-rounds.ts), an async generator of clauses, canned lines and
// call actions that knows nothing of the pacer or the socket. Telemetry and the call subscribe to its events.
import { performance } from "node:perf_hooks";
import type { CallActionEventAction, LlmUsageEntry, TurnWaterfall } from "../../../shared/session-events.ts";
import type { LlmUsage } from "../providers/types.ts";
import type { HistoryMark } from "./conversation.ts";
import { type ReplyStep, type RoundsContext, replyRounds } from "./reply-rounds.ts";
import type { AudioSource } from "./speech-output.ts";

/**
 * - `speculative`: started before the caller's turn was confirmed; nothing of it plays until `commit()` (issue 10).
 * - `generating` / `tools`: the model is producing, or its tools are running.
 * - `speaking`: the model's part is done; its audio may still be playing.
 * - `played`: the caller heard all of it (end mark echoed, or the grace time passed).
 * - `interrupted`: the caller cut in (or the node drained); `superseded`: a newer turn replaced it.
 */
export type ReplyState = "speculative" | "generating" | "tools" | "speaking" | "played" | "interrupted" | "superseded";

export type InterruptReason = "barge-in" | "superseded" | "fold" | "drain";

/** A canned line the platform spoke in this reply. */
export type CannedSource = Exclude<AudioSource, "speech">;

/** Timestamps on the performance.now() clock; converted to epoch ms when published. */
export interface ReplyTimes {
  speechEndAt?: number;
  sttFinalAt?: number;
  llmRequestAt?: number;
  llmFirstTokenAt?: number;
  /** The first clause was ready (chunker) and handed to TTS. */
  firstClauseAt?: number;
  ttsFirstByteAt?: number;
  /** A canned line (acknowledgement, filler, apology) was triggered. */
  cannedAt?: number;
  firstAudioOutAt?: number;
  /** The model opened its first tool call (its toolUse block started). */
  toolCallOpenedAt?: number;
  /** The acknowledgement's first frame left. */
  acknowledgementOutAt?: number;
  /** The last barge-in pause in this reply, and its decision (resume, or interruption). */
  pausedAt?: number;
  resumedAt?: number;
  pauseDecidedAt?: number;
  /** How many times the caller's speech onset paused this reply. */
  pauses?: number;
  /** A speculative reply was confirmed (committed). */
  committedAt?: number;
}

/** What the turn's speculation cost: starts, and those aborted (with what they were billed). */
export interface SpeculationRecord {
  starts: number;
  wasted: number;
  wastedRequests: number;
  /** Usage the aborted speculations reported, per model (billed even though nothing of them played). */
  wastedUsage: LlmUsageEntry[];
}

export interface ToolRecord {
  id: string;
  name: string;
  ok: boolean;
  ms: number;
}

export type ReplyEvent =
  | { type: "model"; modelId: string }
  | { type: "tool"; record: ToolRecord }
  | { type: "action"; action: CallActionEventAction }
  | { type: "line"; source: CannedSource; text: string }
  /** The model's part is done; `text` is everything it generated. */
  | { type: "generated"; text: string }
  /** Final: played, interrupted, superseded or the call ended. The reply's record is complete. */
  | { type: "settled" };

export class Reply {
  state: ReplyState;
  readonly abort = new AbortController();
  readonly times: ReplyTimes = {};
  readonly startedAt = performance.now();
  /** The conversation before this reply touched it, so a fold can undo it. */
  history: HistoryMark = { length: 0, lastContent: 0 };
  readonly generated: string[] = [];
  /** Canned lines spoken in this reply, in order (stored with the turn). */
  readonly lines: { source: CannedSource; text: string }[] = [];
  /** Round → heard text, set when the reply was cut short. */
  heard: Map<number, string> | undefined;
  clearDelayMs: number | undefined;
  thinking = false;
  tier: string | undefined;
  readonly modelIds = new Set<string>();
  readonly usage: LlmUsage = { inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheWriteInputTokens: 0 };
  /** Usage per model and kind (a request started before the turn was confirmed is speculative). */
  readonly llmUsage: LlmUsageEntry[] = [];
  /** Characters of the model's text sent to speech synthesis. */
  ttsCharacters = 0;
  /** Started as a speculation (on an eager end of turn), whether or not it has been committed since. */
  readonly speculative: boolean;
  /** Speculation of the turn this reply answers (set on the reply that plays). */
  speculation: SpeculationRecord | undefined;
  /** Steps produced while speculative: played in order at commit. */
  readonly held: ReplyStep[] = [];
  /** The model's part finished while speculative. */
  heldDone = false;
  /** The first clause, synthesized while speculative (its audio held by agent audio until the commit). */
  preSpoken: Extract<ReplyStep, { type: "clause" }> | undefined;
  readonly #confirmed: Promise<boolean>;
  #confirm: (ok: boolean) => void = () => {};
  readonly tools: ToolRecord[] = [];
  toolsStarted = false;
  /** Byte position of the first audio queued for this reply, and what it was. */
  firstByteAt: number | undefined;
  firstSource: AudioSource | undefined;
  /** Set when every clause was handed to TTS and the end mark is queued. */
  endMark: string | undefined;
  endCallAfterPlayback = false;
  fillers = 0;
  acknowledged = false;
  /** A fold: the caller went on before hearing anything, so this reply leaves no record of its own. */
  discarded = false;
  /** The turn folded into this one (its words lead this one's): the edge drops that turn's checkpointed words. */
  folds: number | undefined;
  #settled = false;
  #listeners: ((event: ReplyEvent) => void)[] = [];

  constructor(
    readonly index: number,
    public userText: string,
    state: ReplyState = "generating",
  ) {
    this.state = state;
    this.speculative = state === "speculative";
    this.#confirmed = this.speculative
      ? new Promise<boolean>((resolve) => {
          this.#confirm = resolve;
        })
      : Promise.resolve(true);
  }

  /**
   * Resolves true once the turn is confirmed (at once for a reply that was never speculative), false if the
   * speculation was dropped. Anything with side effects (a tool) waits for it.
   */
  confirmed(): Promise<boolean> {
    return this.#confirmed;
  }

  /** The turn was confirmed with the text this reply answers: it may now play and run tools. */
  commit(): void {
    if (this.state !== "speculative") return;
    this.state = "generating";
    this.#confirm(true);
  }

  /** The speculation is dropped: the caller went on, or said something else. It leaves no record. */
  drop(): void {
    if (this.#settled) return;
    this.state = "superseded";
    this.discarded = true;
    this.abort.abort();
    this.#confirm(false);
    this.#settled = true;
    this.#listeners = [];
  }

  /** Adds a usage report to this reply's totals and to its per-model entries. */
  addUsage(usage: LlmUsage, modelId: string, speculative: boolean): void {
    this.usage.inputTokens += usage.inputTokens;
    this.usage.outputTokens += usage.outputTokens;
    this.usage.cacheReadInputTokens += usage.cacheReadInputTokens;
    this.usage.cacheWriteInputTokens += usage.cacheWriteInputTokens;
    addUsageEntry(this.llmUsage, { modelId, speculative, ...usage });
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** The model still owes the caller something (dead air counts against it). */
  get owesReply(): boolean {
    return (this.state === "generating" || this.state === "tools") && !this.abort.signal.aborted;
  }

  get interrupted(): boolean {
    return this.state === "interrupted" || this.state === "superseded";
  }

  get settled(): boolean {
    return this.#settled;
  }

  on(listener: (event: ReplyEvent) => void): void {
    this.#listeners.push(listener);
  }

  emit(event: ReplyEvent): void {
    for (const l of this.#listeners) l(event);
  }

  /** The steps of this reply: clauses, canned lines and call actions, round by round. */
  rounds(ctx: RoundsContext): AsyncGenerator<ReplyStep> {
    return replyRounds(this, ctx);
  }

  /** A canned line is being spoken for this reply. */
  spoke(source: CannedSource, text: string): void {
    this.lines.push({ source, text });
    this.emit({ type: "line", source, text });
  }

  /** The model's part is done (all text out, tools run); audio may still be playing. */
  finishGenerating(): void {
    if (this.state !== "generating" && this.state !== "tools" && this.state !== "speculative") return;
    this.state = "speaking";
    this.emit({ type: "generated", text: this.generated.join(" ").trim() });
  }

  /** The caller heard all of it. */
  played(): void {
    if (this.#settled || this.interrupted) return;
    this.state = "played";
    this.settle();
  }

  /**
   * Stops the reply: its model stream and tools abort. `heard` is what the caller heard of it, per round (agent
   * audio knows). A fold leaves no record; anything else settles now.
   */
  interrupt(reason: InterruptReason, heard?: Map<number, string>, clearDelayMs?: number): void {
    if (this.#settled) return;
    this.heard = heard;
    this.clearDelayMs = clearDelayMs;
    this.state = reason === "superseded" || reason === "fold" ? "superseded" : "interrupted";
    this.abort.abort();
    this.#confirm(false);
    if (reason === "fold") {
      this.discarded = true;
      this.#settled = true;
      return;
    }
    this.settle();
  }

  /** The call ended: stop, and publish what there is. */
  close(): void {
    this.abort.abort();
    this.#confirm(false);
    this.settle();
  }

  settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.emit({ type: "settled" });
    this.#listeners = [];
  }

  waterfall(toEpoch: (t: number) => number): TurnWaterfall {
    const t = this.times;
    const d = (a: number | undefined, b: number | undefined) =>
      a !== undefined && b !== undefined ? Math.max(0, round(b - a)) : undefined;
    const w: TurnWaterfall = {};
    const set = <K extends keyof TurnWaterfall>(k: K, v: TurnWaterfall[K] | undefined) => {
      if (v !== undefined) w[k] = v;
    };
    const epoch = (v: number | undefined) => (v === undefined ? undefined : toEpoch(v));
    set("speechEndAt", epoch(t.speechEndAt));
    set("sttFinalAt", epoch(t.sttFinalAt));
    set("llmRequestAt", epoch(t.llmRequestAt));
    set("llmFirstTokenAt", epoch(t.llmFirstTokenAt));
    set("ttsFirstByteAt", epoch(t.ttsFirstByteAt));
    set("firstAudioOutAt", epoch(t.firstAudioOutAt));
    set("sttMs", d(t.speechEndAt, t.sttFinalAt));
    set("llmFirstTokenMs", d(t.llmRequestAt, t.llmFirstTokenAt));
    set("ttsFirstByteMs", d(t.firstClauseAt, t.ttsFirstByteAt));
    set("firstAudioMs", d(t.speechEndAt ?? t.sttFinalAt, t.firstAudioOutAt));
    set("platformOverheadMs", this.platformOverheadMs());
    // The goodbye and a resumed call's bridge answer no caller turn: what "played first" means does not apply.
    if (this.firstSource && this.firstSource !== "goodbye" && this.firstSource !== "bridge")
      set("firstAudioSource", this.firstSource);
    set("toolCallOpenedAt", epoch(t.toolCallOpenedAt));
    set("acknowledgementOutAt", epoch(t.acknowledgementOutAt));
    // A thinking turn's acknowledgement answers the turn being confirmed; a tool turn's, the tool call opening.
    set(
      "acknowledgementMs",
      d(this.thinking ? (t.sttFinalAt ?? this.startedAt) : t.toolCallOpenedAt, t.acknowledgementOutAt),
    );
    set("pausedAt", epoch(t.pausedAt));
    set("resumedAt", epoch(t.resumedAt));
    set("pauseToDecisionMs", d(t.pausedAt, t.pauseDecidedAt));
    set("pauses", t.pauses);
    // End of speech → the request of this (the played) reply: what waiting for the turn to be judged over cost.
    set(
      "turnDetectionMs",
      t.speechEndAt !== undefined && t.llmRequestAt !== undefined ? round(t.llmRequestAt - t.speechEndAt) : undefined,
    );
    set("firstClauseMs", d(t.llmFirstTokenAt, t.firstClauseAt));
    if (this.preSpoken && t.committedAt !== undefined) {
      w.speculativeAudio = true;
      // Positive: the clause's audio was ready and waiting for the confirmation; negative: it came after.
      if (t.ttsFirstByteAt !== undefined) w.audioReadyBeforeConfirmMs = round(t.committedAt - t.ttsFirstByteAt);
    }
    if (this.index > 0) {
      w.speculative = this.speculative;
      w.speculativeStarts = this.speculation?.starts ?? 0;
      w.speculativeWasted = this.speculation?.wasted ?? 0;
    }
    return w;
  }

  /**
   * The platform's own share of the critical path: from the STT final to the LLM request, and from the
   * moment audio was ready (TTS first byte, or a canned line triggered) to the first frame out. Waiting
   * on STT, the model and TTS is excluded; that is the providers' latency, measured separately.
   */
  platformOverheadMs(): number | undefined {
    const t = this.times;
    if (t.firstAudioOutAt === undefined) return undefined;
    const start = t.sttFinalAt ?? this.startedAt;
    const toRequest = t.llmRequestAt !== undefined ? Math.max(0, t.llmRequestAt - start) : 0;
    // A speculation's held clause was ready only once the turn was confirmed (it was not allowed out before).
    const ready =
      this.firstSource === "speech"
        ? t.ttsFirstByteAt !== undefined && t.committedAt !== undefined
          ? Math.max(t.ttsFirstByteAt, t.committedAt)
          : t.ttsFirstByteAt
        : t.cannedAt;
    if (ready === undefined) return undefined;
    return round(toRequest + Math.max(0, t.firstAudioOutAt - ready));
  }
}

/** Adds `entry` to the entry of the same model and kind, or appends it. */
export function addUsageEntry(entries: LlmUsageEntry[], entry: LlmUsageEntry): void {
  const same = entries.find((e) => e.modelId === entry.modelId && e.speculative === entry.speculative);
  if (!same) {
    entries.push({ ...entry });
    return;
  }
  same.inputTokens += entry.inputTokens;
  same.outputTokens += entry.outputTokens;
  same.cacheReadInputTokens += entry.cacheReadInputTokens;
  same.cacheWriteInputTokens += entry.cacheWriteInputTokens;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
