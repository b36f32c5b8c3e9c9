// What a caller hears when the edge cannot put the call through. Short, plain sentences: the caller gets one
// hearing, so each says what happened and what to do, and never mentions internals (limits, nodes, regions).

export const REFUSAL_REASONS = [
  /** The dialled number belongs to no tenant, or its agent has no published version. */
  "not-in-service",
  /** The tenant is at its concurrent-call cap or its call-start rate. */
  "over-limit",
  /** No media node with a fresh heartbeat in any region the tenant may use. */
  "no-capacity",
  /** Anything unexpected on our side (database down, a bug). */
  "unavailable",
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

const SPOKEN: Record<RefusalReason, string> = {
  "not-in-service": "The number you have called is not in service. Please check the number and try again.",
  "over-limit": "All of our lines are busy right now. Please call back in a few minutes.",
  "no-capacity": "We're sorry, we can't take your call right now. Please try again shortly.",
  unavailable: "We're sorry, something went wrong on our side. Please call back later.",
};

export function spokenRefusal(reason: RefusalReason): string {
  return SPOKEN[reason];
}
