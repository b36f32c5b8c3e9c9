// Every series the media node exports on /metrics, in one place so names stay consistent.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { type Counter, type Gauge, type Histogram, Registry } from "./registry.ts";

/** Sub-millisecond resolution where it matters: the p99 of frame lateness must be read below 5 ms. */
const LATENESS_BUCKETS_MS = [0.25, 0.5, 1, 2, 3, 4, 5, 7.5, 10, 15, 20, 40, 80, 160];
const LATENCY_BUCKETS_MS = [5, 10, 25, 50, 75, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000];
const OVERHEAD_BUCKETS_MS = [0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 200, 500];

export interface MediaMetrics {
  readonly registry: Registry;
  readonly callsActive: Gauge;
  readonly callsTotal: Counter;
  readonly callsEnded: Counter;
  readonly admissionRefused: Counter;
  readonly upgradesRefused: Counter;
  readonly badMessages: Counter;
  readonly frameLateness: Histogram;
  readonly framesSent: Counter;
  readonly framesDeferred: Counter;
  readonly slowConsumers: Counter;
  readonly bargeIns: Counter;
  readonly bargeInPauses: Counter;
  readonly bargeInPauseMs: Histogram;
  readonly fillers: Counter;
  readonly callErrors: Counter;
  readonly turnSttMs: Histogram;
  readonly turnLlmFirstTokenMs: Histogram;
  readonly turnTtsFirstByteMs: Histogram;
  readonly turnFirstAudioMs: Histogram;
  readonly turnOverheadMs: Histogram;
  readonly llmRequests: Counter;
  readonly llmCacheReadTokens: Counter;
  readonly llmCacheWriteTokens: Counter;
  readonly toolCalls: Counter;
  readonly sttRecoveries: Counter;
  readonly speculativeStarts: Counter;
  readonly speculativeWasted: Counter;
  readonly speculativeWastedRequests: Counter;
  readonly speculativeWastedTokens: Counter;
  readonly turnDetectionMs: Histogram;
  readonly draining: Gauge;
  /** Stops the event-loop delay sampler. */
  close(): void;
}

export function createMediaMetrics(opts: { activeCalls: () => number }): MediaMetrics {
  const registry = new Registry();
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const m: MediaMetrics = {
    registry,
    callsActive: registry.gauge("media_calls_active", "Calls admitted and not yet ended.", (g) =>
      g.set(opts.activeCalls()),
    ),
    callsTotal: registry.counter("media_calls_total", "Calls admitted, by transport."),
    callsEnded: registry.counter("media_calls_ended_total", "Calls ended, by who ended them."),
    admissionRefused: registry.counter("media_admission_refused_total", "Calls refused at admission, by reason."),
    upgradesRefused: registry.counter("media_upgrades_refused_total", "WebSocket upgrades refused, by reason."),
    badMessages: registry.counter("media_bad_messages_total", "Inbound messages ignored as invalid, by reason."),
    frameLateness: registry.histogram(
      "media_outbound_frame_lateness_ms",
      "How late each outbound 20 ms frame left, against its drift-free schedule.",
      LATENESS_BUCKETS_MS,
    ),
    framesSent: registry.counter("media_outbound_frames_total", "Outbound 20 ms audio frames sent."),
    framesDeferred: registry.counter(
      "media_outbound_frames_deferred_total",
      "Frame slots skipped because the caller's socket had too much unsent data.",
    ),
    slowConsumers: registry.counter(
      "media_slow_consumer_disconnects_total",
      "Calls ended because the peer read too slowly.",
    ),
    bargeIns: registry.counter("media_barge_ins_total", "Times the caller interrupted the agent."),
    bargeInPauses: registry.counter(
      "media_barge_in_pauses_total",
      "Times the caller's speech onset paused the agent, by outcome (resumed, interrupted, ended).",
    ),
    bargeInPauseMs: registry.histogram(
      "media_barge_in_pause_ms",
      "A barge-in pause from the caller's speech onset to its decision (resume or interruption).",
      LATENCY_BUCKETS_MS,
    ),
    fillers: registry.counter(
      "media_dead_air_fillers_total",
      "Filler lines played because the caller heard nothing for 2 s.",
    ),
    callErrors: registry.counter("media_call_errors_total", "Calls ended by an internal error, by stage."),
    turnSttMs: registry.histogram(
      "media_turn_stt_final_ms",
      "End of caller speech to the speech-to-text final.",
      LATENCY_BUCKETS_MS,
    ),
    turnLlmFirstTokenMs: registry.histogram(
      "media_turn_llm_first_token_ms",
      "LLM request to its first token, by model.",
      LATENCY_BUCKETS_MS,
    ),
    turnTtsFirstByteMs: registry.histogram(
      "media_turn_tts_first_byte_ms",
      "First clause sent to text-to-speech to its first audio byte.",
      LATENCY_BUCKETS_MS,
    ),
    turnFirstAudioMs: registry.histogram(
      "media_turn_first_audio_ms",
      "End of caller speech to the first audio frame sent back (voice-to-voice).",
      LATENCY_BUCKETS_MS,
    ),
    turnOverheadMs: registry.histogram(
      "media_turn_platform_overhead_ms",
      "Time on a turn's critical path not spent waiting on a provider.",
      OVERHEAD_BUCKETS_MS,
    ),
    llmRequests: registry.counter("media_llm_requests_total", "LLM requests, by model that answered."),
    llmCacheReadTokens: registry.counter("media_llm_cache_read_tokens_total", "Prompt-cache read input tokens."),
    llmCacheWriteTokens: registry.counter("media_llm_cache_write_tokens_total", "Prompt-cache write input tokens."),
    toolCalls: registry.counter("media_tool_calls_total", "Tool calls, by outcome."),
    sttRecoveries: registry.counter(
      "media_stt_recoveries_total",
      "Speech recognition sessions reopened with the unconfirmed audio replayed, by cause (drop, stall).",
    ),
    speculativeStarts: registry.counter(
      "media_speculative_starts_total",
      "Speculative replies started on an eager end of turn (before the turn was confirmed).",
    ),
    speculativeWasted: registry.counter(
      "media_speculative_wasted_total",
      "Speculative replies aborted (the caller went on, or the final text differed).",
    ),
    speculativeWastedRequests: registry.counter(
      "media_speculative_wasted_requests_total",
      "Model requests made by speculative replies that were aborted.",
    ),
    speculativeWastedTokens: registry.counter(
      "media_speculative_wasted_tokens_total",
      "Tokens billed to speculative replies that were aborted, by kind (input, output, cache_read, cache_write).",
    ),
    turnDetectionMs: registry.histogram(
      "media_turn_detection_ms",
      "End of caller speech to the model request of the reply that played (negative waits count as 0).",
      LATENCY_BUCKETS_MS,
    ),
    draining: registry.gauge("media_draining", "1 while the node drains for shutdown."),
    close: () => loopDelay.disable(),
  };
  registry.gauge("media_event_loop_delay_p99_ms", "p99 event-loop delay since the last scrape.", (g) => {
    g.set(loopDelay.percentile(99) / 1e6);
    loopDelay.reset();
  });
  registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", (g) =>
    g.set(process.memoryUsage.rss()),
  );
  registry.gauge("nodejs_heap_used_bytes", "V8 heap in use, in bytes.", (g) => g.set(process.memoryUsage().heapUsed));
  return m;
}
