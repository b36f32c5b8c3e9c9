import { describe, expect, it } from "vitest";
import { HEARTBEAT_FRESH_MS, type NodeRecord, pickNode } from "../../../workers/src/do/media-region/node-pick.ts";

const now = 1_000_000;
const node = (nodeId: string, over: Partial<NodeRecord> = {}): NodeRecord => ({
  nodeId,
  region: "us-east-1",
  streamBaseUrl: `wss://${nodeId}.example.com`,
  activeCalls: 0,
  capacity: 10,
  draining: false,
  lastSeenAt: now,
  assignedSinceHeartbeat: 0,
  ...over,
});

describe("picking a media node", () => {
  it("takes the least-loaded node relative to its capacity", () => {
    const picked = pickNode(
      [node("a", { activeCalls: 5 }), node("b", { activeCalls: 9, capacity: 40 }), node("c", { activeCalls: 3 })],
      now,
    );
    expect(picked?.nodeId).toBe("b");
  });

  it("counts calls assigned since the last heartbeat", () => {
    const picked = pickNode(
      [node("a", { activeCalls: 2 }), node("b", { activeCalls: 0, assignedSinceHeartbeat: 4 })],
      now,
    );
    expect(picked?.nodeId).toBe("a");
  });

  it("skips draining nodes, full nodes and nodes with a stale heartbeat", () => {
    const nodes = [
      node("draining", { draining: true }),
      node("full", { activeCalls: 10 }),
      node("stale", { lastSeenAt: now - HEARTBEAT_FRESH_MS - 1 }),
    ];
    expect(pickNode(nodes, now)).toBeUndefined();
    expect(pickNode([...nodes, node("ok", { activeCalls: 9 })], now)?.nodeId).toBe("ok");
  });

  it("accepts a heartbeat exactly at the freshness limit", () => {
    expect(pickNode([node("edge", { lastSeenAt: now - HEARTBEAT_FRESH_MS })], now)?.nodeId).toBe("edge");
  });

  it("breaks ties by the most recent heartbeat, then by id", () => {
    expect(pickNode([node("b"), node("a", { lastSeenAt: now - 10 })], now)?.nodeId).toBe("b");
    expect(pickNode([node("b"), node("a")], now)?.nodeId).toBe("a");
  });
});
