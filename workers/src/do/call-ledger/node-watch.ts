// The heartbeat watch: while a call is routed or live, its CallLedger's alarm looks at the call's media node. A node
// silent on the call and on its region's heartbeats for too long, whose call the carrier did not move, is lost: the
// call ends `media_node_lost` and is never left `in_progress`. A call that never reported `call.started` ends
// `never-connected` once its token could no longer be used.

import { namespaceFor } from "../../residency/residency.ts";
import type { MediaRegion } from "../media-region/media-region.ts";
import type { LedgerCore } from "./core.ts";
import { judgeLiveness, LIVENESS_CHECK_MS, MEDIA_NODE_LOST } from "./liveness.ts";
import { hangUpLostCall } from "./lost-call.ts";
import type { Stored } from "./session.ts";

/**
 * How long a routed call may wait for its media node's `call.started`: the call token's 60 s plus connect time,
 * the same span the TenantLimiter gives an unconfirmed lease.
 */
export const CONNECT_DEADLINE_MS = 90_000;

/** The node showed a sign of life for this call (an event, a claim), or the call was just given to it. */
export function touch(core: LedgerCore): void {
  core.kv.put("heardAt", Date.now());
}

/** Starts watching the call's node: the clock restarts now, and the alarm looks again in a while. */
export async function watchNode(core: LedgerCore): Promise<void> {
  touch(core);
  await watchAgainAt(core, Date.now() + LIVENESS_CHECK_MS);
}

async function watchAgainAt(core: LedgerCore, at: number): Promise<void> {
  core.kv.put("watchAt", at);
  await core.schedule(at);
}

/** When the watch next looks (infinity: not watching). */
export function watchAt(core: LedgerCore): number {
  return core.kv.get<number>("watchAt") ?? Number.POSITIVE_INFINITY;
}

/**
 * The heartbeat timeout: a live call whose node has been silent (no event for the call, no heartbeat to its
 * region) for too long, and that the carrier did not move elsewhere, ends as `media_node_lost`: the carrier is
 * told to hang up, the lease goes back, and the record is final. Never left `in_progress`.
 */
export async function checkNode(core: LedgerCore): Promise<void> {
  const stored = core.session.load();
  if (!stored || stored.state === "ended" || stored.state === "initiated") return;
  const { nodeId, region, jurisdiction } = stored.record;
  if (!nodeId || !region) return;
  const now = Date.now();
  const heardAt = core.kv.get<number>("heardAt") ?? stored.transitions.at(-1)?.at ?? now;
  let verdict = judgeLiveness({ now, heardAt, lastSeenAt: undefined });
  let directory: DurableObjectStub<MediaRegion> | undefined;
  if (!verdict.alive) {
    directory = namespaceFor(core.env.MEDIA_REGION, core.env, jurisdiction).getByName(region);
    const node = await directory.node(nodeId).then(
      (n) => n,
      () => null,
    );
    verdict = judgeLiveness({ now, heardAt, lastSeenAt: node === null ? null : node?.lastSeenAt });
  }
  if (verdict.alive) {
    await watchAgainAt(core, verdict.checkAgainAt);
    return;
  }
  console.warn("call-ledger: media node lost, ending the call", { call: core.name(), nodeId });
  await directory?.markLost(nodeId).catch(() => undefined);
  core.log(stored, {
    type: "media_node_lost",
    ok: false,
    at: now,
    detail: `media node ${nodeId} silent since ${new Date(verdict.silentSince).toISOString()}`,
  });
  await hangUpLostCall(core.env, stored.record);
  await core.end({ status: "failed", reason: MEDIA_NODE_LOST }, "edge");
}

/**
 * A call routed to a media node that never reported `call.started` (the carrier gave up on a slow webhook, the
 * token expired unused) is ended as failed once CONNECT_DEADLINE_MS have passed, so no record stays `ringing`.
 */
export async function endIfNeverConnected(core: LedgerCore, stored: Stored): Promise<void> {
  const routedAt = stored.transitions.findLast((t) => t.state === "routed")?.at ?? stored.record.createdAt;
  const deadline = routedAt + CONNECT_DEADLINE_MS;
  if (Date.now() >= deadline) {
    await core.end({ status: "failed", reason: "never-connected" }, "edge");
    return;
  }
  await core.schedule(deadline);
}
