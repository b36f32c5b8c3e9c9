import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { CallControlEnv } from "../../../workers/src/call-control-env.ts";
import type { Heartbeat } from "../../../workers/src/do/media-region/heartbeat.ts";
import type { MediaRegion } from "../../../workers/src/do/media-region/media-region.ts";
import { HEARTBEAT_FRESH_MS } from "../../../workers/src/do/media-region/node-pick.ts";
import { chooseMediaNode } from "../../../workers/src/routing/router.ts";

const edge = env as unknown as CallControlEnv;

const beat = (nodeId: string, region: Heartbeat["region"], over: Partial<Heartbeat> = {}): Heartbeat => ({
  nodeId,
  region,
  streamBaseUrl: `wss://${nodeId}.example.com`,
  activeCalls: 0,
  capacity: 10,
  draining: false,
  sentAt: Date.now(),
  ...over,
});

describe("MediaRegion directory", () => {
  it("hands out the least-loaded node and spreads calls before the next heartbeat", async () => {
    const region = edge.MEDIA_REGION.getByName("us-west-2");
    await region.heartbeat(beat("w-busy", "us-west-2", { activeCalls: 6 }));
    await region.heartbeat(beat("w-1", "us-west-2", { activeCalls: 1 }));
    await region.heartbeat(beat("w-2", "us-west-2", { activeCalls: 1 }));
    const picks = [await region.assign(), await region.assign(), await region.assign(), await region.assign()];
    expect(picks.map((n) => n?.nodeId).sort()).toEqual(["w-1", "w-1", "w-2", "w-2"]);
  });

  it("skips draining nodes and nodes whose heartbeat went stale", async () => {
    const region = edge.MEDIA_REGION.getByName("eu-west-1");
    await region.heartbeat(beat("d", "eu-west-1", { draining: true }));
    await region.heartbeat(beat("s", "eu-west-1"));
    await runInDurableObject(region, (_i: MediaRegion, state) => {
      state.storage.sql.exec(
        "UPDATE nodes SET last_seen_at = ? WHERE node_id = 's'",
        Date.now() - HEARTBEAT_FRESH_MS - 1_000,
      );
    });
    expect(await region.assign()).toBeUndefined();
  });

  it("ignores a heartbeat older than one already seen, and one for another region", async () => {
    const region = edge.MEDIA_REGION.getByName("us-east-1");
    const now = Date.now();
    expect(await region.heartbeat(beat("e", "us-east-1", { sentAt: now, draining: true }))).toEqual({ accepted: true });
    expect(await region.heartbeat(beat("e", "us-east-1", { sentAt: now - 1, draining: false }))).toEqual({
      accepted: false,
      reason: "stale",
    });
    expect((await region.nodes())[0]?.draining).toBe(true);
    expect(await region.heartbeat(beat("x", "eu-central-1"))).toEqual({ accepted: false, reason: "wrong-region" });
  });
});

describe("routing across regions", () => {
  it("falls back to the next allowed region but never across the jurisdiction line", async () => {
    // eu-central-1 (nearest to a German caller) has nothing; eu-west-1 only a draining node; US is healthy.
    await edge.MEDIA_REGION.getByName("eu-west-1").heartbeat(beat("eu-w-ok", "eu-west-1"));
    const german = await chooseMediaNode(edge, { jurisdiction: "eu", callerNumber: "+4930123456" });
    expect(german).toMatchObject({ ok: true, region: "eu-west-1", tried: ["eu-central-1", "eu-west-1"] });

    await edge.MEDIA_REGION.getByName("eu-west-1").heartbeat(beat("eu-w-ok", "eu-west-1", { draining: true }));
    await edge.MEDIA_REGION.getByName("us-east-1").heartbeat(beat("us-ok", "us-east-1"));
    const none = await chooseMediaNode(edge, { jurisdiction: "eu", callerNumber: "+4930123456" });
    expect(none).toEqual({ ok: false, tried: ["eu-central-1", "eu-west-1"] });
  });
});
