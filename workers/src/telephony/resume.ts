// The carrier's media stream to a live call ended, and the carrier asks what next (Twilio follows the <Redirect>
// after <Connect><Stream>; Telnyx reports `streaming.stopped`). If the call's record says it is over, the answer
// is to hang up. If it is still live, its media node died or was cut off: the call goes to another healthy node
// (never the one it was lost on, which the region passes over for a while) with a fresh single-use token that
// says "resume", and that node picks the conversation up from the call's checkpoint.
import type { CallControlEnv } from "../call-control-env.ts";
import { callIdForCarrierCall } from "../do/call-ledger/call-id.ts";
import { MEDIA_NODE_LOST } from "../do/call-ledger/liveness.ts";
import { locateSession } from "../do/call-ledger/locate.ts";
import { namespaceFor } from "../residency/residency.ts";
import { mintCallToken, tokenNonce } from "../routing/call-token.ts";
import type { EdgeLocation } from "../routing/nearness.ts";
import { chooseMediaNode, streamUrlFor } from "../routing/router.ts";

/** A call that loses node after node stops being moved: something other than one node is wrong. */
export const MAX_RESUMES = 3;
/**
 * When a node ends a call on purpose (the agent hung up), it closes the stream and posts `call.ended`; the carrier's
 * request can overtake that post. This long the edge waits for it before treating the call as lost.
 */
export const STREAM_END_GRACE_MS = 1_000;
const GRACE_POLL_MS = 100;

export type StreamEndDecision =
  | {
      kind: "stream";
      callId: string;
      token: string;
      streamUrl: string;
      region: string;
      nodeId: string;
      resume: number;
    }
  /** The call is over (or not ours): end it quietly. */
  | { kind: "hangup" }
  /** Live, but there is nowhere to move it: the call was ended as media_node_lost; say sorry and hang up. */
  | { kind: "give-up"; callId: string }
  /** This exact signed request was already handled. */
  | { kind: "replay" };

export async function decideAfterStreamEnd(
  env: CallControlEnv,
  input: {
    provider: "twilio" | "telnyx";
    carrierCallId: string;
    /** Our call ID when the carrier's request names it (outbound calls, our redirect URL). */
    callId?: string | undefined;
    cf?: EdgeLocation | undefined;
    graceMs?: number | undefined;
    /** Identifies the carrier's request where it can (Telnyx event IDs); seen before → a replay, nothing moves. */
    replayKey?: string | undefined;
    /**
     * Which of the call's streams ended (0: the first; n: the one after the n-th move), as the carrier's signed
     * request names it. Not the call's current stream → a replay of an earlier end: nothing moves, nothing is marked.
     */
    stream?: number | undefined;
  },
): Promise<StreamEndDecision> {
  const callId = input.callId ?? (await callIdForCarrierCall(input.provider, input.carrierCallId));
  const session = await locateSession(env, callId);
  let snapshot = await session?.snapshot();
  if (!session || !snapshot) return { kind: "hangup" };
  if (snapshot.record.providerCallSid !== input.carrierCallId || snapshot.record.provider !== input.provider) {
    console.warn("stream end: the carrier's call is not this call's", { callId });
    return { kind: "hangup" };
  }
  // The stream whose end this is: named by the carrier's request, else the call's current one as first seen.
  const stream = input.stream ?? snapshot.resumes ?? 0;
  if (stream !== (snapshot.resumes ?? 0)) return refuseStale(session, stream);
  if (input.replayKey !== undefined) {
    const limiter = namespaceFor(env.TENANT_LIMITER, env, snapshot.record.jurisdiction).getByName(
      snapshot.record.tenantId,
    );
    if (!(await limiter.firstSighting(input.replayKey))) return { kind: "replay" };
  }
  const deadline = Date.now() + (input.graceMs ?? STREAM_END_GRACE_MS);
  while (snapshot.state !== "ended" && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, GRACE_POLL_MS));
    snapshot = (await session.snapshot()) ?? snapshot;
  }
  if (snapshot.state === "ended") return { kind: "hangup" };
  // A copy of this request may have moved the call while this one waited: the refreshed snapshot then names the
  // new node, and going on would mark that node lost and move (or end) a call that is fine.
  if (stream !== (snapshot.resumes ?? 0)) return refuseStale(session, stream);

  const { record } = snapshot;
  const giveUp = async (detail: string): Promise<StreamEndDecision> => {
    console.warn("stream end: cannot resume the call", { callId, detail });
    await session.recordAction({ type: "resume", ok: false, at: Date.now(), detail });
    await session.end({ status: "failed", reason: MEDIA_NODE_LOST });
    return { kind: "give-up", callId };
  };
  const lost = record.nodeId;
  if (lost && record.region) {
    // The evidence is one call's stream; the region skips the node for a short while, not for good.
    await namespaceFor(env.MEDIA_REGION, env, record.jurisdiction)
      .getByName(record.region)
      .markLost(lost)
      .catch((error: unknown) => console.warn("stream end: could not mark the node", { lost, error: String(error) }));
  }
  const resume = (snapshot.resumes ?? 0) + 1;
  if (resume > MAX_RESUMES) return giveUp(`lost its media node ${resume} times`);
  const handoff = snapshot.handoffs?.at(-1);
  const agent =
    handoff?.agentVersion && handoff.prefixHash
      ? { agentId: handoff.agentId, agentVersion: handoff.agentVersion, prefixHash: handoff.prefixHash }
      : { agentId: record.agentId, agentVersion: record.agentVersion, prefixHash: record.prefixHash };
  if (!agent.agentId || agent.agentVersion === null || !agent.prefixHash) return giveUp("no agent version on record");

  const chosen = await chooseMediaNode(env, {
    jurisdiction: record.jurisdiction,
    callerNumber: record.direction === "inbound" ? record.fromNumber : record.toNumber,
    cf: input.cf,
    exclude: lost ? [lost] : [],
  });
  if (!chosen.ok) return giveUp(`no other media node (tried ${chosen.tried.join(", ")})`);
  const token = await mintCallToken(env, {
    callId,
    tenantId: record.tenantId,
    agentId: agent.agentId,
    agentVersion: agent.agentVersion,
    prefixHash: agent.prefixHash,
    region: chosen.region,
    carrierCallId: input.carrierCallId,
    resume,
  });
  const moved = await session.reroute({
    region: chosen.region,
    nodeId: chosen.node.nodeId,
    nonce: tokenNonce(token),
    stream,
  });
  // A copy of this request won the race and moved the call: this one is the replay.
  if (!moved.ok && moved.error === "stale-stream") return refuseStale(session, stream);
  // Ended meanwhile (the carrier's status callback, the node's own call.ended): nothing to resume.
  if (!moved.ok) return { kind: "hangup" };
  return {
    kind: "stream",
    callId,
    token,
    streamUrl: streamUrlFor(chosen.node, input.provider),
    region: chosen.region,
    nodeId: chosen.node.nodeId,
    resume,
  };
}

/** A stream's end reported again (a replayed request): logged on the call for support, and nothing else. */
async function refuseStale(
  session: { recordAction(entry: { type: string; ok: boolean; at: number; detail: string }): Promise<void> },
  stream: number,
): Promise<StreamEndDecision> {
  console.warn("stream end: a replayed request for an earlier stream, refused");
  await session.recordAction({
    type: "resume",
    ok: false,
    at: Date.now(),
    detail: `the end of stream ${stream} was reported again (a replay); the call stays where it is`,
  });
  return { kind: "replay" };
}
