// Telemetry of one call: session events (call.started, turn, action, call.ended), the per-turn metrics and the
// live transcript a browser shows. It learns about replies by subscribing to their events; nothing on the
// audio path calls it.
import { performance } from "node:perf_hooks";
import type { CallTokenClaims } from "../../../shared/call-token.ts";
import type { CallEndReason, SessionEvent, Transport } from "../../../shared/session-events.ts";
import type { MediaMetrics } from "../metrics/media-metrics.ts";
import type { Logger } from "../server/logger.ts";
import { agentTextHeard, callerTurnFinal } from "../session-sink/checkpoints.ts";
import type { SessionSink } from "../session-sink/types.ts";
import type { WebNotice } from "../transports/types.ts";
import type { PauseRecord } from "./barge-in-pause.ts";
import { addUsageEntry, type Reply } from "./reply.ts";

const toEpoch = (t: number) => Math.round(performance.timeOrigin + t);

export interface TelemetryDeps {
  callId: string;
  sink: SessionSink;
  metrics: MediaMetrics;
  log: Logger;
  /** Live transcript lines for a browser caller (carriers ignore them). */
  notify(notice: WebNotice): void;
  /** Facts from the caller's words so far, checkpointed with each caller turn. */
  entities?(): Record<string, string>;
}

/** The carrier's own identifiers of the stream and call, for support; never used for trust. */
export interface CarrierIds {
  streamId?: string;
  callRef?: string;
}

export class Telemetry {
  readonly #d: TelemetryDeps;
  #seq = 0;
  /** The last barge-in: when it was detected and when the carrier's clear left. */
  lastBargeIn: { detectedAt: number; clearSentAt: number } | undefined;
  /** The call's recent barge-in pauses and how each was decided. */
  readonly pauses: PauseRecord[] = [];

  constructor(deps: TelemetryDeps) {
    this.#d = deps;
  }

  callStarted(claims: CallTokenClaims, nodeId: string, transport: Transport, carrier: CarrierIds): void {
    this.#publish({
      type: "call.started",
      callId: this.#d.callId,
      seq: 0,
      tenantId: claims.tenantId,
      agentId: claims.agentId,
      agentVersion: claims.agentVersion,
      region: claims.region,
      nodeId,
      transport,
      carrier,
      at: Date.now(),
    });
  }

  callEnded(reason: CallEndReason, detail: string | undefined, durationMs: number, turns: number): void {
    this.#d.metrics.callsEnded.inc({ reason });
    this.#publish({
      type: "call.ended",
      callId: this.#d.callId,
      seq: 0,
      reason,
      ...(detail ? { detail: detail.slice(0, 500) } : {}),
      durationMs: Math.round(durationMs),
      turns,
      at: Date.now(),
    });
  }

  /** Follows a reply from its start to its record. */
  watch(reply: Reply): void {
    const m = this.#d.metrics;
    if (reply.userText) {
      this.#d.notify({ type: "transcript", role: "user", text: reply.userText });
      // Checkpointed before the model is asked: a node lost from here on still leaves the caller's words stored.
      this.#publish({
        ...callerTurnFinal({
          callId: this.#d.callId,
          index: reply.index,
          text: reply.userText,
          entities: this.#d.entities?.(),
          folds: reply.folds,
        }),
        seq: 0,
      });
    }
    // A committed speculation asked its model before it was watched.
    for (const model of reply.modelIds) m.llmRequests.inc({ model });
    reply.on((event) => {
      switch (event.type) {
        case "model":
          m.llmRequests.inc({ model: event.modelId });
          return;
        case "tool":
          m.toolCalls.inc({ outcome: event.record.ok ? "ok" : "error" });
          return;
        case "action":
          this.#publish({
            type: "action",
            callId: this.#d.callId,
            seq: 0,
            turnIndex: reply.index,
            action: event.action,
            at: Date.now(),
          });
          return;
        case "line":
          if (event.source === "filler") m.fillers.inc();
          return;
        case "generated":
          if (event.text) this.#d.notify({ type: "transcript", role: "assistant", text: event.text });
          return;
        case "settled":
          if (!reply.discarded) this.#publishTurn(reply);
          return;
      }
    });
  }

  /** The caller has now heard `text` of turn `index` (a playback mark came back). */
  agentHeard(index: number, text: string, mark: string): void {
    this.#publish({ ...agentTextHeard({ callId: this.#d.callId, index, text, mark }), seq: 0 });
  }

  /** Everything published so far delivered (or given up on), within `timeoutMs`. */
  async flush(timeoutMs: number): Promise<void> {
    await Promise.race([
      this.#d.sink.flush(timeoutMs).catch(() => {}),
      new Promise((resolve) => setTimeout(resolve, timeoutMs).unref()),
    ]);
  }

  /** A filler played with no reply in progress (a stalled recognizer between turns). */
  fillerWithoutReply(): void {
    this.#d.metrics.fillers.inc();
  }

  /** A barge-in pause was decided: resumed (a back-channel, echo), interrupted, or ended by something else. */
  bargeInPause(record: PauseRecord): void {
    this.pauses.push(record);
    if (this.pauses.length > 64) this.pauses.shift();
    this.#d.metrics.bargeInPauses.inc({ outcome: record.outcome });
    this.#d.metrics.bargeInPauseMs.observe(record.decidedAt - record.pausedAt);
    this.#d.log.debug("barge-in pause", { outcome: record.outcome, ms: record.decidedAt - record.pausedAt });
  }

  speculationStarted(): void {
    this.#d.metrics.speculativeStarts.inc();
  }

  /** A speculative reply was aborted: what it cost is counted (it was never watched, so its requests too). */
  speculationWasted(reply: Reply): void {
    const m = this.#d.metrics;
    m.speculativeWasted.inc();
    if (reply.times.llmRequestAt !== undefined) m.speculativeWastedRequests.inc();
    for (const model of reply.modelIds) m.llmRequests.inc({ model });
    const u = reply.usage;
    if (u.inputTokens) m.speculativeWastedTokens.inc({ kind: "input" }, u.inputTokens);
    if (u.outputTokens) m.speculativeWastedTokens.inc({ kind: "output" }, u.outputTokens);
    if (u.cacheReadInputTokens) m.speculativeWastedTokens.inc({ kind: "cache_read" }, u.cacheReadInputTokens);
    if (u.cacheWriteInputTokens) m.speculativeWastedTokens.inc({ kind: "cache_write" }, u.cacheWriteInputTokens);
    this.#d.log.debug("speculative reply dropped", { turn: reply.index, text: reply.userText });
  }

  bargeIn(detectedAt: number, clearSentAt: number): void {
    this.lastBargeIn = { detectedAt, clearSentAt };
    this.#d.metrics.bargeIns.inc();
    this.#d.log.debug("barge-in", { clearDelayMs: clearSentAt - detectedAt });
  }

  #publishTurn(reply: Reply): void {
    const w = reply.waterfall(toEpoch);
    const m = this.#d.metrics;
    if (w.sttMs !== undefined) m.turnSttMs.observe(w.sttMs);
    if (w.llmFirstTokenMs !== undefined)
      m.turnLlmFirstTokenMs.observe(w.llmFirstTokenMs, { model: [...reply.modelIds][0] ?? "unknown" });
    if (w.ttsFirstByteMs !== undefined) m.turnTtsFirstByteMs.observe(w.ttsFirstByteMs);
    if (w.firstAudioMs !== undefined && reply.index > 0) m.turnFirstAudioMs.observe(w.firstAudioMs);
    if (w.platformOverheadMs !== undefined) m.turnOverheadMs.observe(w.platformOverheadMs);
    if (w.turnDetectionMs !== undefined) m.turnDetectionMs.observe(Math.max(0, w.turnDetectionMs));
    m.llmCacheReadTokens.inc(undefined, reply.usage.cacheReadInputTokens);
    m.llmCacheWriteTokens.inc(undefined, reply.usage.cacheWriteInputTokens);
    const generated = reply.generated.join(" ").replace(/\s+/g, " ").trim();
    // What the turn's model requests cost, per model and kind, the aborted speculations included (they are billed).
    const llmUsage = reply.llmUsage.map((e) => ({ ...e }));
    for (const e of reply.speculation?.wastedUsage ?? []) addUsageEntry(llmUsage, e);
    const heardText = reply.interrupted
      ? [...(reply.heard ?? new Map<number, string>()).entries()]
          .filter(([r]) => r >= 0)
          .map(([, t]) => t)
          .join(" ")
      : generated;
    // A reply the model could not give is still a turn the caller heard: the platform's own lines are its text.
    const assistantText = heardText || (reply.interrupted ? "" : reply.lines.map((l) => l.text).join(" "));
    this.#publish({
      type: "turn",
      callId: this.#d.callId,
      seq: 0,
      index: reply.index,
      userText: reply.userText,
      assistantText,
      generatedText: generated,
      interrupted: reply.interrupted,
      ...(reply.clearDelayMs !== undefined ? { clearDelayMs: reply.clearDelayMs } : {}),
      thinking: reply.thinking,
      tools: reply.tools,
      modelIds: [...reply.modelIds],
      ...(reply.tier ? { tier: reply.tier } : {}),
      usage: { ...reply.usage },
      ...(llmUsage.length > 0 ? { llmUsage } : {}),
      ...(reply.ttsCharacters > 0 ? { ttsCharacters: reply.ttsCharacters } : {}),
      ...(reply.lines.length > 0 ? { lines: reply.lines.map((l) => ({ ...l })) } : {}),
      waterfall: w,
      at: Date.now(),
    });
  }

  #publish(event: SessionEvent): void {
    try {
      this.#d.sink.publish({ ...event, seq: this.#seq++ });
    } catch (err) {
      this.#d.log.error("session event rejected", { type: event.type, error: String(err) });
    }
  }
}
