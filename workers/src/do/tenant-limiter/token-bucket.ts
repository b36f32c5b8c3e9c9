// A token bucket as a pure function of (state, policy, now), so the limiter DO only stores two numbers per bucket
// and tests can drive time directly.

export interface BucketPolicy {
  /** Burst size: tokens a full bucket holds. */
  capacity: number;
  /** Steady rate tokens come back at. */
  refillPerSecond: number;
}

export interface BucketState {
  tokens: number;
  /** Epoch ms the token count was computed at. */
  updatedAt: number;
}

export type TakeResult =
  | { ok: true; state: BucketState; remaining: number }
  | { ok: false; state: BucketState; remaining: number; retryAfterMs: number };

/** The bucket as it stands at `now`: refilled for the time elapsed, never above capacity. */
export function refill(state: BucketState | undefined, policy: BucketPolicy, now: number): BucketState {
  if (!state) return { tokens: policy.capacity, updatedAt: now };
  // A clock that went backwards (another machine's timestamp) refills nothing rather than draining.
  const elapsedMs = Math.max(0, now - state.updatedAt);
  const tokens = Math.min(policy.capacity, state.tokens + (elapsedMs / 1000) * policy.refillPerSecond);
  return { tokens, updatedAt: Math.max(now, state.updatedAt) };
}

/** Takes `cost` tokens if the bucket holds them; otherwise says how long until it will. */
export function take(state: BucketState | undefined, policy: BucketPolicy, now: number, cost = 1): TakeResult {
  const current = refill(state, policy, now);
  if (current.tokens >= cost) {
    const next = { tokens: current.tokens - cost, updatedAt: current.updatedAt };
    return { ok: true, state: next, remaining: Math.floor(next.tokens) };
  }
  const missing = cost - current.tokens;
  const retryAfterMs =
    policy.refillPerSecond > 0 && cost <= policy.capacity
      ? Math.ceil((missing / policy.refillPerSecond) * 1000)
      : Number.POSITIVE_INFINITY;
  return { ok: false, state: current, remaining: Math.floor(current.tokens), retryAfterMs };
}
