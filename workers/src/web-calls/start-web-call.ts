// Starting a browser call: the same decision as a phone call (telephony/inbound.ts), minus the carrier. The
// tenant's concurrent-call lease and call-start rate, the nearest healthy region inside the tenant's
// jurisdiction, a CallLedger holding the call record (so it is listed in GET /v1/calls with its turns), and a
// single-use call token bound to this call. The browser then opens the media node's /v1/web socket with it.
import { newResourceId } from "../../../shared/ids.ts";
import type { CallControlEnv } from "../call-control-env.ts";
import type { Jurisdiction } from "../db/schema.ts";
import { sessionStub } from "../do/call-ledger/locate.ts";
import type { CallRecord } from "../do/call-ledger/records.ts";
import type { AgentVersionRow } from "../prefix/runtime-config.ts";
import { compileVersion } from "../prefix/runtime-config.ts";
import { namespaceFor } from "../residency/residency.ts";
import { CALL_TOKEN_TTL_MS, mintCallToken } from "../routing/call-token.ts";
import type { EdgeLocation } from "../routing/nearness.ts";
import { chooseMediaNode } from "../routing/router.ts";

/** What the calls table shows as the two ends of a browser call (there are no phone numbers). */
export const WEB_CALLER = "web";

export interface WebCallRequest {
  tenantId: string;
  jurisdiction: Jurisdiction;
  plan: string;
  version: AgentVersionRow;
  /** Where the browser is, for choosing the nearest region. */
  cf?: EdgeLocation | undefined;
  /** Who started it: `console:<user>` or `site:<origin>`; kept as the call's `to`. */
  via: string;
}

export type WebCallResult =
  | { ok: true; callId: string; url: string; token: string; expiresAt: number; region: string; record: CallRecord }
  | { ok: false; reason: "over-limit"; detail: string; retryAfterMs?: number }
  | { ok: false; reason: "no-capacity"; detail: string };

export async function startWebCall(env: CallControlEnv, request: WebCallRequest): Promise<WebCallResult> {
  const { version } = request;
  const callId = newResourceId("call");
  const limiter = namespaceFor(env.TENANT_LIMITER, env, request.jurisdiction).getByName(request.tenantId);
  const admitted = await limiter.admitCall({ callId, plan: request.plan });
  if (!admitted.ok) {
    return {
      ok: false,
      reason: "over-limit",
      detail:
        admitted.reason === "concurrency"
          ? `The account already has ${admitted.activeCalls} of ${admitted.maxConcurrentCalls} concurrent calls.`
          : "The account is starting calls faster than its plan allows.",
      ...(admitted.reason === "rate" ? { retryAfterMs: admitted.retryAfterMs } : {}),
    };
  }
  try {
    const { prefix } = await compileVersion(version);
    const record: CallRecord = {
      callId,
      tenantId: request.tenantId,
      jurisdiction: request.jurisdiction,
      plan: request.plan,
      direction: "web",
      fromNumber: WEB_CALLER,
      toNumber: request.via,
      agentId: version.agentId,
      agentVersionId: version.id,
      agentVersion: version.version,
      prefixHash: prefix.hash,
      provider: null,
      providerCallSid: null,
      region: null,
      nodeId: null,
      status: "ringing",
      createdAt: Date.now(),
      answeredAt: null,
      endedAt: null,
      endReason: null,
    };
    const session = sessionStub(env, callId, request.jurisdiction);
    const chosen = await chooseMediaNode(env, { jurisdiction: request.jurisdiction, cf: request.cf });
    if (!chosen.ok) {
      await limiter.releaseLease(callId);
      await session.open({ record, state: "initiated", leaseHeld: false });
      await session.end({ status: "failed", reason: `no-capacity: tried ${chosen.tried.join(", ")}` });
      return {
        ok: false,
        reason: "no-capacity",
        detail: `No media node can take the call (tried ${chosen.tried.join(", ")}).`,
      };
    }
    const token = await mintCallToken(env, {
      callId,
      tenantId: request.tenantId,
      agentId: version.agentId,
      agentVersion: version.version,
      prefixHash: prefix.hash,
      region: chosen.region,
    });
    const opened = await session.open({
      record: { ...record, region: chosen.region, nodeId: chosen.node.nodeId },
      state: "routed",
      leaseHeld: true,
    });
    if (!opened.ok) throw new Error(`call session refused to open: ${opened.error}`);
    return {
      ok: true,
      callId,
      url: `${chosen.node.streamBaseUrl.replace(/\/$/, "")}/v1/web`,
      token,
      expiresAt: Date.now() + CALL_TOKEN_TTL_MS,
      region: chosen.region,
      record,
    };
  } catch (error) {
    await limiter.releaseLease(callId).catch(() => undefined);
    throw error;
  }
}
