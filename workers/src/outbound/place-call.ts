// Placing an outbound call: every gate first (consent, calling hours, limits), then Twilio's REST API. A call
// that fails a gate never reaches Twilio and never takes a lease; one that passes has a CallLedger before
// Twilio is asked, so the status callback always finds it.
import { and, desc, eq, isNull } from "drizzle-orm";
import { newResourceId } from "../../../shared/ids.ts";
import type { CallControlEnv } from "../call-control-env.ts";
import {
  agents,
  agentVersions,
  type ConsentType,
  consentRecords,
  type Jurisdiction,
  phoneNumbers,
} from "../db/schema.ts";
import type { Db } from "../db/types.ts";
import { sessionStub } from "../do/call-ledger/locate.ts";
import type { CallRecord } from "../do/call-ledger/records.ts";
import { compileVersion } from "../prefix/runtime-config.ts";
import { namespaceFor } from "../residency/residency.ts";
import { type CallingWindow, checkCallingHours, DEFAULT_CALLING_WINDOW } from "../telephony/calling-hours.ts";
import { locateNumber } from "../telephony/e164.ts";
import { createTwilioCall, TwilioApiError, type TwilioCredentials } from "../telephony/twilio-rest.ts";
import { type ConsentRefusal, judgeConsent } from "./consent-check.ts";

export interface OutboundRequest {
  tenantId: string;
  jurisdiction: Jurisdiction;
  plan: string;
  callingWindow?: CallingWindow | undefined;
  agentId: string;
  to: string;
  from: string;
  purpose: ConsentType;
}

export const OUTBOUND_REFUSALS = [
  "consent-missing",
  "consent-revoked",
  "consent-expired",
  "outside-calling-hours",
  "over-limit",
] as const;
export type OutboundRefusal = (typeof OUTBOUND_REFUSALS)[number];

export type PlaceCallResult =
  | { ok: true; callId: string; providerCallSid: string; record: CallRecord }
  /** A gate said no: 403 with the reason. */
  | { ok: false; kind: "refused"; reason: OutboundRefusal | ConsentRefusal; detail: string; retryAfterMs?: number }
  /** The request names something that is not there or not usable: 404/409/422. */
  | { ok: false; kind: "invalid"; status: 404 | 409 | 422; detail: string }
  /** Twilio said no or was unreachable: 502. */
  | { ok: false; kind: "carrier"; detail: string };

export interface PlaceCallContext {
  db: Db;
  env: CallControlEnv;
  twilio: TwilioCredentials | undefined;
  /** Where Twilio reaches this edge (answer and status webhooks). */
  publicBaseUrl: string;
  now?: number;
}

export async function placeOutboundCall(ctx: PlaceCallContext, request: OutboundRequest): Promise<PlaceCallResult> {
  const now = ctx.now ?? Date.now();
  const { db, env } = ctx;

  const [agent] = await db
    .select({ version: agentVersions })
    .from(agents)
    .leftJoin(
      agentVersions,
      and(eq(agentVersions.tenantId, agents.tenantId), eq(agentVersions.id, agents.publishedVersionId)),
    )
    .where(and(eq(agents.tenantId, request.tenantId), eq(agents.id, request.agentId), isNull(agents.deletedAt)))
    .limit(1);
  if (!agent)
    return { ok: false, kind: "invalid", status: 404, detail: `No agent ${request.agentId} in this account.` };
  if (!agent.version)
    return { ok: false, kind: "invalid", status: 409, detail: `Agent ${request.agentId} has no published version.` };
  const version = agent.version;

  const [number] = await db
    .select({ id: phoneNumbers.id, provider: phoneNumbers.provider })
    .from(phoneNumbers)
    .where(and(eq(phoneNumbers.tenantId, request.tenantId), eq(phoneNumbers.e164, request.from)))
    .limit(1);
  if (!number)
    return { ok: false, kind: "invalid", status: 422, detail: `${request.from} is not one of this account's numbers.` };
  if (number.provider !== "twilio") {
    return {
      ok: false,
      kind: "invalid",
      status: 422,
      detail: `Outbound calls are placed through Twilio; ${request.from} is a ${number.provider} number.`,
    };
  }

  const consents = await db
    .select()
    .from(consentRecords)
    .where(and(eq(consentRecords.tenantId, request.tenantId), eq(consentRecords.phoneNumber, request.to)))
    .orderBy(desc(consentRecords.createdAt));
  const consent = judgeConsent(consents, request.purpose, now);
  if (!consent.ok) return { ok: false, kind: "refused", reason: consent.reason, detail: consent.detail };

  const location = locateNumber(request.to);
  const hours = checkCallingHours(now, location?.timeZones ?? [], request.callingWindow ?? DEFAULT_CALLING_WINDOW);
  if (!hours.allowed) {
    const detail =
      hours.timeZone === "unknown"
        ? `The callee's time zone cannot be determined from ${request.to}, so permitted calling hours cannot be checked.`
        : `It is ${hours.localTime} in ${hours.timeZone}, outside the permitted calling hours.`;
    return { ok: false, kind: "refused", reason: "outside-calling-hours", detail };
  }

  const callId = newResourceId("call");
  const limiter = namespaceFor(env.TENANT_LIMITER, env, request.jurisdiction).getByName(request.tenantId);
  const admitted = await limiter.admitCall({ callId, plan: request.plan });
  if (!admitted.ok) {
    const detail =
      admitted.reason === "concurrency"
        ? `The account already has ${admitted.activeCalls} of ${admitted.maxConcurrentCalls} concurrent calls.`
        : "The account is starting calls faster than its plan allows.";
    return {
      ok: false,
      kind: "refused",
      reason: "over-limit",
      detail,
      ...(admitted.reason === "rate" ? { retryAfterMs: admitted.retryAfterMs } : {}),
    };
  }

  const { prefix } = await compileVersion(version);
  const record: CallRecord = {
    callId,
    tenantId: request.tenantId,
    jurisdiction: request.jurisdiction,
    plan: request.plan,
    direction: "outbound",
    fromNumber: request.from,
    toNumber: request.to,
    agentId: version.agentId,
    agentVersionId: version.id,
    agentVersion: version.version,
    prefixHash: prefix.hash,
    provider: "twilio",
    providerCallSid: null,
    region: null,
    nodeId: null,
    status: "queued",
    createdAt: now,
    answeredAt: null,
    endedAt: null,
    endReason: null,
  };
  const session = sessionStub(env, callId, request.jurisdiction);
  const opened = await session.open({ record, state: "initiated", leaseHeld: true }).catch(async (error: unknown) => {
    await limiter.releaseLease(callId);
    throw error;
  });
  if (!opened.ok) {
    await limiter.releaseLease(callId);
    throw new Error(`call session refused to open: ${opened.error}`);
  }

  if (!ctx.twilio) {
    await session.end({ status: "failed", reason: "carrier-not-configured" });
    return { ok: false, kind: "carrier", detail: "Twilio is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)." };
  }
  const base = ctx.publicBaseUrl.replace(/\/$/, "");
  try {
    const created = await createTwilioCall(ctx.twilio, {
      to: request.to,
      from: request.from,
      url: `${base}/v1/telephony/twilio/voice?callId=${callId}`,
      statusCallback: `${base}/v1/telephony/twilio/status?callId=${callId}`,
      timeoutSeconds: 30,
    });
    const updated = await session.setCarrierCallId(created.sid);
    return { ok: true, callId, providerCallSid: created.sid, record: updated.ok ? updated.snapshot.record : record };
  } catch (error) {
    const detail =
      error instanceof TwilioApiError ? `Twilio refused the call: ${error.message}` : "Twilio could not be reached.";
    await session.end({
      status: "failed",
      reason: error instanceof TwilioApiError ? `carrier-error-${error.code ?? error.status}` : "carrier-unreachable",
    });
    return { ok: false, kind: "carrier", detail };
  }
}
