import { describe, expect, it } from "vitest";
import { OUTBOX_MAX_DELAY_MS, outboxRetryDelayMs } from "../../../workers/src/do/call-ledger/backoff.ts";

describe("outbox retry delay", () => {
  it("doubles from one second", () => {
    expect([1, 2, 3, 4].map((n) => outboxRetryDelayMs(n, 0))).toEqual([1_000, 2_000, 4_000, 8_000]);
  });

  it("is capped, jitter included, at 1.2 × five minutes", () => {
    expect(outboxRetryDelayMs(50, 0)).toBe(OUTBOX_MAX_DELAY_MS);
    expect(outboxRetryDelayMs(50, 0.9999)).toBeLessThanOrEqual(OUTBOX_MAX_DELAY_MS * 1.2);
  });

  it("adds at most 20% jitter", () => {
    expect(outboxRetryDelayMs(1, 0.5)).toBe(1_100);
    expect(outboxRetryDelayMs(1, 1)).toBe(1_200);
  });
});
