// Whether a live call's media node is still there. The signals: anything the node sent for this call (session
// events) and the node's own heartbeats to its region's directory. A node silent on both for NODE_LOST_AFTER_MS is
// gone; if the carrier has not moved the call to another node by then (Twilio follows our <Redirect> at once when
// the stream drops), the edge ends the call as `media_node_lost` rather than leaving it `in_progress` for good.
import { HEARTBEAT_FRESH_MS } from "../media-region/node-pick.ts";

/** Longer than the directory's freshness window, so a node the router would still pick is never declared lost. */
export const NODE_LOST_AFTER_MS = HEARTBEAT_FRESH_MS + 5_000;
/** How often a live call looks at its node when the node has said nothing about the call. */
export const LIVENESS_CHECK_MS = 10_000;
export const MEDIA_NODE_LOST = "media_node_lost";

export type LivenessVerdict = { alive: true; checkAgainAt: number } | { alive: false; silentSince: number };

/**
 * `heardAt`: the last event from the call's node (or the moment the call was routed to it). `lastSeenAt`: the
 * node's last heartbeat as its directory saw it, undefined when the directory does not know the node (forgotten,
 * never registered) and null when the directory could not be asked (then only `heardAt` decides, and late).
 */
export function judgeLiveness(input: {
  now: number;
  heardAt: number;
  lastSeenAt: number | undefined | null;
  lostAfterMs?: number;
}): LivenessVerdict {
  const lostAfter = input.lostAfterMs ?? NODE_LOST_AFTER_MS;
  const last = Math.max(input.heardAt, input.lastSeenAt ?? 0);
  if (input.lastSeenAt === null && input.now - input.heardAt < 3 * lostAfter) {
    // The directory did not answer: that is not evidence the node is gone. Ask again soon.
    return { alive: true, checkAgainAt: input.now + LIVENESS_CHECK_MS };
  }
  if (input.now - last < lostAfter) {
    return { alive: true, checkAgainAt: Math.min(last + lostAfter, input.now + LIVENESS_CHECK_MS) };
  }
  return { alive: false, silentSince: last };
}
