// A call's node is declared lost only when it has been silent on both signals (events for the call, heartbeats to
// its region) for NODE_LOST_AFTER_MS; a directory that cannot be asked is not evidence.
import { describe, expect, it } from "vitest";
import { judgeLiveness, LIVENESS_CHECK_MS, NODE_LOST_AFTER_MS } from "../../../workers/src/do/call-ledger/liveness.ts";
import { HEARTBEAT_FRESH_MS } from "../../../workers/src/do/media-region/node-pick.ts";

const now = 1_000_000_000;

describe("judging a call's media node", () => {
  it("waits longer than the router's freshness window, so a node the router would pick is never lost", () => {
    expect(NODE_LOST_AFTER_MS).toBeGreaterThan(HEARTBEAT_FRESH_MS);
  });

  it("keeps a node that sent an event for the call recently, and looks again before it could be lost", () => {
    const verdict = judgeLiveness({ now, heardAt: now - 5_000, lastSeenAt: undefined });
    expect(verdict).toEqual({
      alive: true,
      checkAgainAt: now + Math.min(LIVENESS_CHECK_MS, NODE_LOST_AFTER_MS - 5_000),
    });
  });

  it("keeps a quiet call whose node still heartbeats", () => {
    expect(judgeLiveness({ now, heardAt: now - 60_000, lastSeenAt: now - 2_000 })).toMatchObject({ alive: true });
  });

  it("declares the node lost when both signals are silent, or the directory no longer knows it", () => {
    expect(judgeLiveness({ now, heardAt: now - 60_000, lastSeenAt: now - 30_000 })).toEqual({
      alive: false,
      silentSince: now - 30_000,
    });
    expect(judgeLiveness({ now, heardAt: now - 60_000, lastSeenAt: undefined })).toMatchObject({ alive: false });
  });

  it("does not end a call because the directory could not answer, until the silence is far longer", () => {
    expect(judgeLiveness({ now, heardAt: now - 30_000, lastSeenAt: null })).toMatchObject({ alive: true });
    expect(judgeLiveness({ now, heardAt: now - 4 * NODE_LOST_AFTER_MS, lastSeenAt: null })).toMatchObject({
      alive: false,
    });
  });
});
