// A carrier stops waiting for the webhook; a decision that arrives after its budget must not leave a live call.
import { describe, expect, it } from "vitest";
import { decideWithinBudget } from "../../../workers/src/telephony/answer-budget.ts";
import type { InboundDecision } from "../../../workers/src/telephony/inbound.ts";

const stream: InboundDecision = {
  kind: "stream",
  callId: "call_late",
  token: "t",
  streamUrl: "wss://node/v1/telephony/twilio",
  region: "us-east-1",
  nodeId: "node-1",
  prefixHash: "a".repeat(64),
  tenantId: "AYB-TEST",
};

function later<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms));
}

function harness() {
  const deferred: Promise<unknown>[] = [];
  const abandoned: string[] = [];
  return {
    deferred,
    abandoned,
    budget: (budgetMs: number) => ({
      budgetMs,
      defer: (work: Promise<unknown>) => void deferred.push(work),
      abandon: async (callId: string) => void abandoned.push(callId),
    }),
  };
}

describe("an inbound decision's budget", () => {
  it("passes a decision made in time through untouched", async () => {
    const h = harness();
    expect(await decideWithinBudget(later(5, stream), h.budget(200))).toEqual(stream);
    expect(h.deferred).toHaveLength(0);
  });

  it("answers 'late' at the budget, then ends the session the late decision opened", async () => {
    const h = harness();
    expect(await decideWithinBudget(later(300, stream), h.budget(20))).toBe("late");
    // Answered before the decision existed: nothing to undo yet.
    expect(h.abandoned).toEqual([]);
    await Promise.all(h.deferred);
    expect(h.abandoned).toEqual(["call_late"]);
  });

  it("has nothing to undo for a late refusal or a late failure", async () => {
    const h = harness();
    const refusal: InboundDecision = { kind: "refuse", reason: "not-in-service" };
    expect(await decideWithinBudget(later(60, refusal), h.budget(10))).toBe("late");
    const failing = later(60, undefined).then(() => Promise.reject(new Error("database gone")));
    expect(await decideWithinBudget(failing, h.budget(10))).toBe("late");
    await Promise.all(h.deferred);
    expect(h.abandoned).toEqual([]);
  });
});
