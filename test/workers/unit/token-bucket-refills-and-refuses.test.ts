import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { refill, take } from "../../../workers/src/do/tenant-limiter/token-bucket.ts";

const policy = { capacity: 5, refillPerSecond: 1 };

describe("token bucket", () => {
  it("allows a burst up to capacity, then refuses with the wait until the next token", () => {
    let state = undefined as Parameters<typeof take>[0];
    for (let i = 0; i < 5; i++) {
      const result = take(state, policy, 1_000);
      expect(result.ok).toBe(true);
      state = result.state;
    }
    const refused = take(state, policy, 1_000);
    expect(refused).toMatchObject({ ok: false, retryAfterMs: 1_000 });
    expect(take(refused.state, policy, 1_500)).toMatchObject({ ok: false, retryAfterMs: 500 });
    expect(take(refused.state, policy, 2_000).ok).toBe(true);
  });

  it("never refills above capacity, however long it sat idle", () => {
    const state = refill({ tokens: 0, updatedAt: 0 }, policy, 10_000_000);
    expect(state.tokens).toBe(5);
  });

  it("does not drain when the clock goes backwards", () => {
    const state = refill({ tokens: 3, updatedAt: 5_000 }, policy, 1_000);
    expect(state).toEqual({ tokens: 3, updatedAt: 5_000 });
  });

  it("grants no more than capacity plus elapsed refill over any schedule", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3_000 }), { maxLength: 200 }), (gaps) => {
        let state = undefined as Parameters<typeof take>[0];
        let now = 0;
        let granted = 0;
        for (const gap of gaps) {
          now += gap;
          const result = take(state, policy, now);
          if (result.ok) granted++;
          state = result.state;
        }
        expect(granted).toBeLessThanOrEqual(policy.capacity + Math.floor((now / 1000) * policy.refillPerSecond) + 1e-9);
      }),
    );
  });
});
