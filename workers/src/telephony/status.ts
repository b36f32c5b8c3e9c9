// Carrier status callbacks: the carrier's word that a call is over. They finish the call record and give the
// tenant's lease back, whatever the media node did or did not report.
import type { CallControlEnv } from "../call-control-env.ts";
import { callIdForCarrierCall } from "../do/call-ledger/call-id.ts";
import { locateSession } from "../do/call-ledger/locate.ts";
import { callStatusFromCarrier } from "../do/call-ledger/records.ts";

export type StatusOutcome = "ended" | "noted" | "unknown-call";

const FINAL = new Set(["completed", "busy", "no-answer", "failed", "canceled"]);

export async function applyCarrierStatus(
  env: CallControlEnv,
  input: {
    provider: "twilio" | "telnyx";
    carrierCallId: string;
    status: string;
    /** Outbound calls carry our call ID in the callback URL; inbound ones are found from the carrier's ID. */
    callId?: string | undefined;
  },
): Promise<StatusOutcome> {
  const callId = input.callId ?? (await callIdForCarrierCall(input.provider, input.carrierCallId));
  const session = await locateSession(env, callId);
  if (!session) return "unknown-call";
  const snapshot = await session.snapshot();
  if (snapshot && snapshot.record.providerCallSid === null) await session.setCarrierCallId(input.carrierCallId);
  if (!FINAL.has(input.status)) return "noted";
  await session.end({ status: callStatusFromCarrier(input.status), reason: `carrier-${input.status}` });
  return "ended";
}
