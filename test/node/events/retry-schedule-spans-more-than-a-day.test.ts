// The webhook retry schedule: exponential, more than 24 hours from the first failure to the last attempt, each delay
// within Cloudflare Queues' 12-hour limit; an override must be valid or it is refused, never half-applied.
import { expect, it } from "vitest";
import { DEFAULT_RETRY_DELAYS_SECONDS, delayAfter, retrySchedule } from "../../../workers/src/events/retry.ts";

it("backs off over more than 24 hours, growing, each delay at most 12 hours", () => {
  const schedule = retrySchedule(undefined);
  expect(schedule).toBe(DEFAULT_RETRY_DELAYS_SECONDS);
  const total = schedule.reduce((a, b) => a + b, 0);
  expect(total).toBeGreaterThan(24 * 3600);
  for (let i = 1; i < schedule.length; i++) expect(schedule[i]).toBeGreaterThanOrEqual(schedule[i - 1] ?? 0);
  expect(Math.max(...schedule)).toBeLessThanOrEqual(43_200);
  // Attempt n failed: wait schedule[n-1]; after the last attempt there is no next one (dead-lettered).
  expect(delayAfter(schedule, 1)).toBe(5);
  expect(delayAfter(schedule, schedule.length + 1)).toBeUndefined();
});

it("takes an override in whole seconds and refuses a bad one", () => {
  expect(retrySchedule("1, 2,3")).toEqual([1, 2, 3]);
  expect(() => retrySchedule("1,x")).toThrow(/WEBHOOK_RETRY_DELAYS_SECONDS/);
  expect(() => retrySchedule("50000")).toThrow(/43200/);
});
