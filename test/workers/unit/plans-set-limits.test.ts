import { describe, expect, it } from "vitest";
import { limitsForPlan, PLANS } from "../../../workers/src/do/tenant-limiter/plans.ts";

describe("plans", () => {
  it("grow from free to business", () => {
    expect(PLANS.free.maxConcurrentCalls).toBeLessThan(PLANS.starter.maxConcurrentCalls);
    expect(PLANS.starter.maxConcurrentCalls).toBeLessThan(PLANS.business.maxConcurrentCalls);
    expect(PLANS.free.callStarts.refillPerSecond).toBeLessThan(PLANS.business.callStarts.refillPerSecond);
  });

  it("give an unknown plan the free limits, never unlimited", () => {
    expect(limitsForPlan("enterprise-typo")).toBe(PLANS.free);
    expect(limitsForPlan("constructor")).toBe(PLANS.free);
  });
});
