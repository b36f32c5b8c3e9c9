// The outbox's timing. Retry spacing: doubling from one second, capped at five minutes, with up to 20% jitter so a
// database that comes back is not hit by every call's retry in the same instant. Batching: how long accepted items
// wait for each other before a flush (below).

export const OUTBOX_BASE_DELAY_MS = 1_000;
export const OUTBOX_MAX_DELAY_MS = 5 * 60_000;

/** Delay before retry number `attempt` (1 = the first retry). `random` in [0, 1). */
export function outboxRetryDelayMs(attempt: number, random: number = Math.random()): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 20));
  const base = Math.min(OUTBOX_MAX_DELAY_MS, OUTBOX_BASE_DELAY_MS * 2 ** exponent);
  return Math.round(base * (1 + 0.2 * Math.max(0, Math.min(random, 1))));
}

/**
 * How long an accepted item may wait for others to share its flush. Each flush is one connection to Postgres (one
 * outbound WebSocket from workerd, which keeps native memory for each), and a call checkpoints every piece of every
 * turn: flushed one by one that was 16 of the 20 connections of a two-line call. Nothing waits on Postgres during a call
 * (the live feed and a moved call read the CallLedger), so mid-call rows wait a few seconds; the call's own changes and
 * the tenant's events wait a second, so the record of a call that rings and connects, and its call.started, share
 * one; an ended call and its analysis hand-off go at once, as does an outbox that has grown to a batch.
 */
export const OUTBOX_BATCH_MS = { midCall: 5_000, callChange: 1_000 } as const;
export const OUTBOX_FLUSH_AT_ITEMS = 50;
