// One agent turn: the reply to one caller utterance (or the greeting), with its latency waterfall.
import { performance } from "node:perf_hooks";
import type { TurnWaterfall } from "../../../shared/session-events.ts";
import type { LlmUsage } from "../providers/types.ts";
import type { HistoryMark } from "./conversation.ts";
import type { AudioSource } from "./speech-output.ts";

/** Timestamps on the performance.now() clock; converted to epoch ms when published. */
export interface TurnTimes {
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
}

export interface ToolRecord {
  id: string;
  name: string;
  ok: boolean;
  ms: number;
}

export class Turn {
  readonly abort = new AbortController();
  readonly times: TurnTimes = {};
  readonly startedAt = performance.now();
  /** The conversation before this turn touched it, so a fold can undo it. */
  history: HistoryMark = { length: 0, lastContent: 0 };
  generated: string[] = [];
  /** Round → heard text, set when the turn was cut short. */
  heard: Map<number, string> | undefined;
  interrupted = false;
  clearDelayMs: number | undefined;
  thinking = false;
  tier: string | undefined;
  readonly modelIds = new Set<string>();
  readonly usage: LlmUsage = { inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheWriteInputTokens: 0 };
  readonly tools: ToolRecord[] = [];
  toolsStarted = false;
  /** Byte position of the first audio queued for this turn, and what it was. */
  firstByteAt: number | undefined;
  firstSource: AudioSource | undefined;
  /** The model's part is done (all text out, tools run); audio may still be playing. */
  replyDone = false;
  /** Set when every clause was handed to TTS and the end mark is queued. */
  endMark: string | undefined;
  playbackDone = false;
  published = false;
  endCallAfterPlayback = false;
  fillers = 0;
  acknowledged = false;

  constructor(
    readonly index: number,
    public userText: string,
  ) {}

  get owesReply(): boolean {
    return !this.replyDone && !this.interrupted && !this.abort.signal.aborted;
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
    if (this.firstSource && this.firstSource !== "goodbye") set("firstAudioSource", this.firstSource);
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
    let ready: number | undefined;
    if (this.firstSource === "speech") ready = t.ttsFirstByteAt;
    else ready = t.cannedAt;
    if (ready === undefined) return undefined;
    return round(toRequest + Math.max(0, t.firstAudioOutAt - ready));
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
