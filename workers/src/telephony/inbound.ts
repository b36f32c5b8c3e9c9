// The decision behind every inbound call, independent of the carrier's wire format: whose number it is, whether
// the tenant may take another call, where it runs, and the token that lets it in. The Twilio and Telnyx handlers
// only translate this decision into TwiML or Call Control commands.
//
// Every path that took a lease either hands it to the CallLedger (which gives it back when the call ends) or
// gives it back itself before answering, so a refused or failed call never holds capacity.
import type { CallControlEnv } from "../call-control-env.ts";
import { callIdForCarrierCall } from "../do/call-ledger/call-id.ts";
import { locateSession, sessionStub } from "../do/call-ledger/locate.ts";
import type { CallRecord } from "../do/call-ledger/records.ts";
import { compileVersion } from "../prefix/runtime-config.ts";
import { namespaceFor } from "../residency/residency.ts";
import { mintCallToken } from "../routing/call-token.ts";
import type { EdgeLocation } from "../routing/nearness.ts";
import { chooseMediaNode, streamUrlFor } from "../routing/router.ts";
import type { NumberRoute } from "./number-routes.ts";
import type { RefusalReason } from "./refusals.ts";

export interface InboundCall {
  provider: "twilio" | "telnyx";
  /** Twilio CallSid or Telnyx call_control_id. */
  carrierCallId: string;
  to: string;
  from: string;
  /**
   * Identifies this exact signed request; seen twice within the replay window → refused. After the window, a
   * replay is refused because the call's session already exists.
   */
  replayKey: string;
  cf?: EdgeLocation | undefined;
}

export type InboundDecision =
  | {
      kind: "stream";
      callId: string;
      token: string;
      streamUrl: string;
      region: string;
      nodeId: string;
      prefixHash: string;
      tenantId: string;
    }
  | { kind: "refuse"; reason: RefusalReason; callId?: string | undefined }
  | { kind: "replay" };

export async function decideInboundCall(
  env: CallControlEnv,
  call: InboundCall,
  route: NumberRoute | undefined,
): Promise<InboundDecision> {
  if (!route?.version) return { kind: "refuse", reason: "not-in-service" };
  const version = route.version;
  const callId = await callIdForCarrierCall(call.provider, call.carrierCallId);
  const limiter = namespaceFor(env.TENANT_LIMITER, env, route.jurisdiction).getByName(route.tenantId);
  const session = sessionStub(env, callId, route.jurisdiction);
  const record: CallRecord = {
    callId,
    tenantId: route.tenantId,
    jurisdiction: route.jurisdiction,
    plan: route.plan,
    direction: "inbound",
    fromNumber: call.from,
    toNumber: call.to,
    agentId: version.agentId,
    agentVersionId: version.id,
    agentVersion: version.version,
    prefixHash: null,
    provider: call.provider,
    providerCallSid: call.carrierCallId,
    region: null,
    nodeId: null,
    status: "ringing",
    createdAt: Date.now(),
    answeredAt: null,
    endedAt: null,
    endReason: null,
  };

  // The call ID is derived from the carrier's call, so a session under it means this call was already decided.
  // Twilio's signatures carry no timestamp and the limiter remembers a replay key only for REPLAY_WINDOW_MS;
  // this check is what refuses a replay after that, for as long as the call's session exists (it outlives the
  // call). Checked before the limiter so a replay takes no lease and gets no token.
  if (await session.snapshot()) return { kind: "replay" };
  const admitted = await limiter.admitCall({ callId, plan: route.plan, replayKey: call.replayKey });
  if (!admitted.ok) {
    if (admitted.reason === "replay") return { kind: "replay" };
    await recordRefusal(
      session,
      record,
      "over-limit",
      admitted.reason === "rate" ? "call-start rate" : "concurrent calls",
    );
    return { kind: "refuse", reason: "over-limit", callId };
  }

  try {
    const { prefix } = await compileVersion(version);
    const chosen = await chooseMediaNode(env, {
      jurisdiction: route.jurisdiction,
      callerNumber: call.from,
      cf: call.cf,
    });
    if (!chosen.ok) {
      await limiter.releaseLease(callId);
      await recordRefusal(
        session,
        { ...record, prefixHash: prefix.hash },
        "no-capacity",
        `tried ${chosen.tried.join(", ")}`,
      );
      return { kind: "refuse", reason: "no-capacity", callId };
    }
    const token = await mintCallToken(env, {
      callId,
      tenantId: route.tenantId,
      agentId: version.agentId,
      agentVersion: version.version,
      prefixHash: prefix.hash,
      region: chosen.region,
      carrierCallId: call.carrierCallId,
    });
    const opened = await session.open({
      record: { ...record, prefixHash: prefix.hash, region: chosen.region, nodeId: chosen.node.nodeId },
      state: "routed",
      leaseHeld: true,
    });
    if (!opened.ok) throw new Error(`call session refused to open: ${opened.error}`);
    return {
      kind: "stream",
      callId,
      token,
      streamUrl: streamUrlFor(chosen.node, call.provider),
      region: chosen.region,
      nodeId: chosen.node.nodeId,
      prefixHash: prefix.hash,
      tenantId: route.tenantId,
    };
  } catch (error) {
    // Whatever failed, the lease must not outlive this request (the session never got to own it).
    await limiter.releaseLease(callId).catch(() => undefined);
    throw error;
  }
}

/**
 * A call that was decided (lease taken, session open) but could not be put through, e.g. the carrier refused the
 * answer command: the lease goes back now rather than at the limiter's alarm, and the record ends with `reason`.
 * A no-op for a call with no session.
 */
export async function abandonInboundCall(env: CallControlEnv, callId: string, reason: string): Promise<void> {
  const session = await locateSession(env, callId);
  const snapshot = await session?.snapshot();
  if (!session || !snapshot) return;
  if (snapshot.leaseHeld) {
    const { jurisdiction, tenantId } = snapshot.record;
    await namespaceFor(env.TENANT_LIMITER, env, jurisdiction).getByName(tenantId).releaseLease(callId);
  }
  await session.end({ status: "failed", reason });
}

/** The call record of a call we refused after knowing the tenant: it exists, and says why. */
async function recordRefusal(
  session: ReturnType<typeof sessionStub>,
  record: CallRecord,
  reason: RefusalReason,
  detail: string,
): Promise<void> {
  await session.open({ record, state: "initiated", leaseHeld: false });
  await session.end({ status: "failed", reason: `${reason}: ${detail}` });
}
