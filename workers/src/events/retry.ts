// When a failed delivery is tried again. Exponential, spanning a little over 27 hours (the issue asks for at least
// 24): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h after each failure, then the delivery is dead-lettered. Each delay is
// within Cloudflare Queues' 12-hour limit on `retry({ delaySeconds })`.

export const DEFAULT_RETRY_DELAYS_SECONDS = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000] as const;

/** WEBHOOK_RETRY_DELAYS_SECONDS (comma-separated) replaces the schedule; tests use seconds, not hours. */
export function retrySchedule(override: string | undefined): readonly number[] {
  if (!override?.trim()) return DEFAULT_RETRY_DELAYS_SECONDS;
  const delays = override.split(",").map((s) => Number(s.trim()));
  if (delays.length === 0 || delays.some((d) => !Number.isInteger(d) || d < 0 || d > 43_200)) {
    throw new Error("WEBHOOK_RETRY_DELAYS_SECONDS must be comma-separated whole seconds, each at most 43200");
  }
  return delays;
}

/** Seconds to wait after failed attempt `attempt` (1-based), or undefined when it was the last one. */
export function delayAfter(schedule: readonly number[], attempt: number): number | undefined {
  return schedule[attempt - 1];
}
