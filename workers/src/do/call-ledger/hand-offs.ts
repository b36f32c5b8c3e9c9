// What a call hands on once its record is safe: the tenant's webhook events (call.started, call.ended, transfers)
// and the post-call analysis. Both ride the outbox, so they leave only after the rows they describe are in Postgres,
// and the call never waits for them.
import { buildEvent } from "../../events/publish.ts";
import type { EventData, EventType } from "../../events/schemas.ts";
import type { LedgerCore } from "./core.ts";
import type { CallRecord } from "./records.ts";

/** How long a call ended by the carrier waits for the media node's last turn before it is analysed anyway. */
export const ANALYSIS_GRACE_SECONDS = 30;

/** Queues an event for the tenant's webhooks through the outbox (sent by the alarm, never awaited by the call). */
export async function emit<T extends EventType>(core: LedgerCore, type: T, data: EventData<T>): Promise<void> {
  const stored = core.session.load();
  if (!stored) return;
  const message = buildEvent({ id: stored.record.tenantId, jurisdiction: stored.record.jurisdiction }, type, data);
  await core.outbox.enqueue([{ kind: "event", message }]);
}

export async function emitStarted(core: LedgerCore, r: CallRecord): Promise<void> {
  await emit(core, "call.started", {
    callId: r.callId,
    direction: r.direction,
    from: r.fromNumber,
    to: r.toNumber,
    agentId: r.agentId,
    agentVersion: r.agentVersion,
    region: r.region,
    startedAt: new Date(r.answeredAt ?? Date.now()).toISOString(),
  });
}

export async function emitEnded(core: LedgerCore, record: CallRecord): Promise<void> {
  const endedAt = record.endedAt ?? Date.now();
  const base = (core.env.PUBLIC_BASE_URL ?? "").replace(/\/+$/, "");
  await emit(core, "call.ended", {
    callId: record.callId,
    direction: record.direction,
    from: record.fromNumber,
    to: record.toNumber,
    agentId: record.agentId,
    status: record.status,
    endReason: record.endReason,
    startedAt: record.answeredAt === null ? null : new Date(record.answeredAt).toISOString(),
    endedAt: new Date(endedAt).toISOString(),
    durationSeconds: record.answeredAt === null ? 0 : Math.max(0, (endedAt - record.answeredAt) / 1000),
    transcriptUrl: `${base}/v1/calls/${record.callId}`,
  });
}

/**
 * Puts the call's analysis behind everything already in the outbox, once per kind: `now` when the media node
 * reported the end after its last turn, `delayed` as the fallback when something else ended the call.
 */
export async function queueAnalysis(core: LedgerCore, delaySeconds: number): Promise<void> {
  const stored = core.session.load();
  if (!stored) return;
  const kind = delaySeconds === 0 ? "now" : "delayed";
  if (stored.analysisQueued === "now" || stored.analysisQueued === kind) return;
  stored.analysisQueued = kind;
  core.session.save(stored);
  const { tenantId, callId, jurisdiction } = stored.record;
  await core.outbox.enqueue([{ kind: "analysis", message: { tenantId, callId, jurisdiction }, delaySeconds }]);
}
