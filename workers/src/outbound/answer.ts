// The callee picked up an outbound call: Twilio fetches our voice URL with `?callId=`. Only now is a media
// node chosen and a token minted (a token minted at dial time could expire while the phone rings).
import type { CallControlEnv } from "../call-control-env.ts";
import { locateSession } from "../do/call-ledger/locate.ts";
import { namespaceFor } from "../residency/residency.ts";
import { mintCallToken } from "../routing/call-token.ts";
import type { EdgeLocation } from "../routing/nearness.ts";
import { chooseMediaNode, streamUrlFor } from "../routing/router.ts";
import type { InboundDecision } from "../telephony/inbound.ts";

export async function decideOutboundAnswer(
  env: CallControlEnv,
  input: { callId: string; callSid: string; replayKey: string; cf?: EdgeLocation | undefined },
): Promise<InboundDecision> {
  const session = await locateSession(env, input.callId);
  const snapshot = await session?.snapshot();
  if (!session || !snapshot || snapshot.record.direction !== "outbound")
    return { kind: "refuse", reason: "not-in-service" };
  const { record } = snapshot;
  // The URL carries our call ID; the CallSid must be the one Twilio gave us for it, or this is someone else's call.
  if (record.providerCallSid !== null && record.providerCallSid !== input.callSid)
    return { kind: "refuse", reason: "not-in-service" };
  const limiter = namespaceFor(env.TENANT_LIMITER, env, record.jurisdiction).getByName(record.tenantId);
  if (!(await limiter.firstSighting(input.replayKey))) return { kind: "replay" };
  // Past `initiated` the callee's answer was already handled: this is the same webhook again, after the window.
  if (snapshot.state !== "initiated") return { kind: "replay" };
  if (record.providerCallSid === null) await session.setCarrierCallId(input.callSid);

  const chosen = await chooseMediaNode(env, {
    jurisdiction: record.jurisdiction,
    callerNumber: record.toNumber,
    cf: input.cf,
  });
  if (!chosen.ok) {
    await session.end({ status: "failed", reason: `no-capacity: tried ${chosen.tried.join(", ")}` });
    return { kind: "refuse", reason: "no-capacity", callId: record.callId };
  }
  if (!record.agentId || record.agentVersion === null || !record.prefixHash)
    throw new Error("outbound call record lacks its agent");
  const token = await mintCallToken(env, {
    callId: record.callId,
    tenantId: record.tenantId,
    agentId: record.agentId,
    agentVersion: record.agentVersion,
    prefixHash: record.prefixHash,
    region: chosen.region,
    carrierCallId: input.callSid,
  });
  const routed = await session.route({ region: chosen.region, nodeId: chosen.node.nodeId });
  if (!routed.ok) throw new Error(`outbound call could not be routed: ${routed.error}`);
  return {
    kind: "stream",
    callId: record.callId,
    token,
    streamUrl: streamUrlFor(chosen.node, "twilio"),
    region: chosen.region,
    nodeId: chosen.node.nodeId,
    prefixHash: record.prefixHash,
    tenantId: record.tenantId,
  };
}
