// Choosing a media node within one region: the least-loaded node that heartbeated recently and is not draining.

/** A node whose last heartbeat is older than this is treated as gone (heartbeats come every ~5 s). */
export const HEARTBEAT_FRESH_MS = 15_000;

export interface NodeRecord {
  nodeId: string;
  region: string;
  streamBaseUrl: string;
  activeCalls: number;
  capacity: number;
  draining: boolean;
  /** Edge clock when the last heartbeat arrived. */
  lastSeenAt: number;
  /** Calls handed to the node since its last heartbeat, which its `activeCalls` cannot include yet. */
  assignedSinceHeartbeat: number;
}

export function load(node: NodeRecord): number {
  return (node.activeCalls + node.assignedSinceHeartbeat) / node.capacity;
}

export function isEligible(node: NodeRecord, now: number, freshMs = HEARTBEAT_FRESH_MS): boolean {
  return (
    !node.draining && now - node.lastSeenAt <= freshMs && node.activeCalls + node.assignedSinceHeartbeat < node.capacity
  );
}

/** Least load first; ties go to the node heard from most recently, then by id so the choice is deterministic. */
export function pickNode(
  nodes: readonly NodeRecord[],
  now: number,
  freshMs = HEARTBEAT_FRESH_MS,
): NodeRecord | undefined {
  let best: NodeRecord | undefined;
  for (const node of nodes) {
    if (!isEligible(node, now, freshMs)) continue;
    if (
      !best ||
      load(node) < load(best) ||
      (load(node) === load(best) &&
        (node.lastSeenAt > best.lastSeenAt || (node.lastSeenAt === best.lastSeenAt && node.nodeId < best.nodeId)))
    ) {
      best = node;
    }
  }
  return best;
}
