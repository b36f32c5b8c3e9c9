// One MediaRegion per region (named by region ID, e.g. `eu-central-1`): the directory of that region's media
// nodes, fed by their heartbeats, asked by the router for a node for each new call.
import { Server } from "partyserver";
import type { CallControlEnv } from "../../call-control-env.ts";
import type { Heartbeat } from "./heartbeat.ts";
import { HEARTBEAT_FRESH_MS, type NodeRecord, pickNode } from "./node-pick.ts";

/** Nodes silent this long are forgotten (the alarm prunes them) so the table only holds the living fleet. */
export const NODE_FORGET_MS = 60 * 60_000;
/** How long a node that lost a live call is passed over by the router. */
export const SUSPECT_MS = 30_000;

export type HeartbeatResult = { accepted: true } | { accepted: false; reason: "stale" | "wrong-region" };

type NodeRow = {
  node_id: string;
  region: string;
  stream_base_url: string;
  active_calls: number;
  capacity: number;
  draining: number;
  last_seen_at: number;
  sent_at: number;
  assigned: number;
};

const toRecord = (row: NodeRow): NodeRecord => ({
  nodeId: row.node_id,
  region: row.region,
  streamBaseUrl: row.stream_base_url,
  activeCalls: row.active_calls,
  capacity: row.capacity,
  draining: row.draining === 1,
  lastSeenAt: row.last_seen_at,
  assignedSinceHeartbeat: row.assigned,
});

export class MediaRegion extends Server<CallControlEnv> {
  constructor(ctx: DurableObjectState, env: CallControlEnv) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS nodes (
      node_id TEXT PRIMARY KEY, region TEXT NOT NULL, stream_base_url TEXT NOT NULL,
      active_calls INTEGER NOT NULL, capacity INTEGER NOT NULL, draining INTEGER NOT NULL,
      last_seen_at INTEGER NOT NULL, sent_at INTEGER NOT NULL, assigned INTEGER NOT NULL DEFAULT 0)`);
    // Nodes a call just lost (its stream dropped while the call was live): skipped by the router until `until`,
    // whatever their heartbeats say, since a node that drops calls may still heartbeat. Its own table, so objects
    // created before it need no ALTER.
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS suspects (node_id TEXT PRIMARY KEY, until INTEGER NOT NULL)");
  }

  async heartbeat(beat: Heartbeat): Promise<HeartbeatResult> {
    if (beat.region !== this.name) return { accepted: false, reason: "wrong-region" };
    const previous = this.ctx.storage.sql
      .exec<{ sent_at: number }>("SELECT sent_at FROM nodes WHERE node_id = ?", beat.nodeId)
      .toArray()[0];
    if (previous && previous.sent_at > beat.sentAt) return { accepted: false, reason: "stale" };
    // A fresh report of activeCalls already counts the calls we assigned before it, so `assigned` restarts.
    this.ctx.storage.sql.exec(
      `INSERT INTO nodes (node_id, region, stream_base_url, active_calls, capacity, draining, last_seen_at, sent_at, assigned)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)
       ON CONFLICT (node_id) DO UPDATE SET region = excluded.region, stream_base_url = excluded.stream_base_url,
         active_calls = excluded.active_calls, capacity = excluded.capacity, draining = excluded.draining,
         last_seen_at = excluded.last_seen_at, sent_at = excluded.sent_at, assigned = 0`,
      beat.nodeId,
      beat.region,
      beat.streamBaseUrl,
      beat.activeCalls,
      beat.capacity,
      beat.draining ? 1 : 0,
      Date.now(),
      beat.sentAt,
    );
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + NODE_FORGET_MS);
    return { accepted: true };
  }

  /**
   * Picks a node for a new call and counts the call against it until the node's next heartbeat. `exclude`: nodes
   * this call must not go to (the one it was just lost on); suspects are skipped for every call.
   */
  async assign(options: { exclude?: readonly string[] } = {}): Promise<NodeRecord | undefined> {
    const now = Date.now();
    const skip = new Set([...(options.exclude ?? []), ...this.#suspects(now)]);
    const node = pickNode(
      this.#nodes().filter((n) => !skip.has(n.nodeId)),
      now,
      HEARTBEAT_FRESH_MS,
    );
    if (!node) return undefined;
    this.ctx.storage.sql.exec("UPDATE nodes SET assigned = assigned + 1 WHERE node_id = ?", node.nodeId);
    return { ...node, assignedSinceHeartbeat: node.assignedSinceHeartbeat + 1 };
  }

  async nodes(): Promise<NodeRecord[]> {
    return this.#nodes();
  }

  /** One node's record and whether it is suspect; undefined when the directory does not know it. */
  async node(nodeId: string): Promise<(NodeRecord & { suspect: boolean }) | undefined> {
    const row = this.ctx.storage.sql.exec<NodeRow>("SELECT * FROM nodes WHERE node_id = ?", nodeId).toArray()[0];
    if (!row) return undefined;
    return { ...toRecord(row), suspect: this.#suspects(Date.now()).includes(nodeId) };
  }

  /**
   * Evidence that a node lost a live call (the carrier's stream to it ended while the call was live, or it went
   * silent): no call is routed to it for `forMs`. A node that was only cut off comes back after that by itself.
   */
  async markLost(nodeId: string, forMs: number = SUSPECT_MS): Promise<void> {
    const until = Date.now() + forMs;
    this.ctx.storage.sql.exec(
      "INSERT INTO suspects (node_id, until) VALUES (?, ?) ON CONFLICT (node_id) DO UPDATE SET until = max(until, excluded.until)",
      nodeId,
      until,
    );
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + NODE_FORGET_MS);
  }

  override async onAlarm(): Promise<void> {
    const now = Date.now();
    this.ctx.storage.sql.exec("DELETE FROM nodes WHERE last_seen_at <= ?", now - NODE_FORGET_MS);
    this.ctx.storage.sql.exec("DELETE FROM suspects WHERE until <= ?", now);
    const left = this.ctx.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM nodes").one().n;
    if (left > 0) await this.ctx.storage.setAlarm(now + NODE_FORGET_MS);
  }

  #suspects(now: number): string[] {
    return this.ctx.storage.sql
      .exec<{ node_id: string }>("SELECT node_id FROM suspects WHERE until > ?", now)
      .toArray()
      .map((r) => r.node_id);
  }

  #nodes(): NodeRecord[] {
    return this.ctx.storage.sql.exec<NodeRow>("SELECT * FROM nodes ORDER BY node_id").toArray().map(toRecord);
  }
}
