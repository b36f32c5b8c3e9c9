// What each plan allows. Small and in code on purpose: limits change with a deploy and a review, not with a
// database write, and every limiter decision reads them without a query.
import type { BucketPolicy } from "./token-bucket.ts";

export const PLAN_NAMES = ["free", "starter", "business"] as const;
export type PlanName = (typeof PLAN_NAMES)[number];

export interface PlanLimits {
  /** Tenant REST API requests. */
  apiRequests: BucketPolicy;
  /** New calls, inbound and outbound together. */
  callStarts: BucketPolicy;
  /** Calls holding a lease at once. */
  maxConcurrentCalls: number;
  /** A lease the media node confirmed lives at most this long, even if no end is ever reported. */
  maxCallDurationMs: number;
}

const HOUR = 3_600_000;

export const PLANS: Readonly<Record<PlanName, PlanLimits>> = {
  free: {
    apiRequests: { capacity: 60, refillPerSecond: 1 },
    callStarts: { capacity: 5, refillPerSecond: 5 / 60 },
    maxConcurrentCalls: 2,
    maxCallDurationMs: 1 * HOUR,
  },
  starter: {
    apiRequests: { capacity: 300, refillPerSecond: 5 },
    callStarts: { capacity: 30, refillPerSecond: 30 / 60 },
    maxConcurrentCalls: 10,
    maxCallDurationMs: 2 * HOUR,
  },
  business: {
    apiRequests: { capacity: 1_200, refillPerSecond: 20 },
    callStarts: { capacity: 120, refillPerSecond: 120 / 60 },
    maxConcurrentCalls: 100,
    maxCallDurationMs: 4 * HOUR,
  },
};

/** Unknown plan names (a typo in the database, a plan retired in code) get the free plan, never unlimited. */
export function limitsForPlan(plan: string): PlanLimits {
  return Object.hasOwn(PLANS, plan) ? PLANS[plan as PlanName] : PLANS.free;
}
