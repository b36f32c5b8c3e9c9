// Retry spacing for the outbox: doubling from one second, capped at five minutes, with up to 20% jitter so a
// database that comes back is not hit by every call's retry in the same instant.

export const OUTBOX_BASE_DELAY_MS = 1_000;
export const OUTBOX_MAX_DELAY_MS = 5 * 60_000;

/** Delay before retry number `attempt` (1 = the first retry). `random` in [0, 1). */
export function outboxRetryDelayMs(attempt: number, random: number = Math.random()): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 20));
  const base = Math.min(OUTBOX_MAX_DELAY_MS, OUTBOX_BASE_DELAY_MS * 2 ** exponent);
  return Math.round(base * (1 + 0.2 * Math.max(0, Math.min(random, 1))));
}
