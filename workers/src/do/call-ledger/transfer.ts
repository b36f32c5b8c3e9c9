// A transfer the agent asked for, carried out by the edge (the node has no carrier credentials): armed by the tool,
// bound to its turn by the node's action event, and done once that turn has played, so the caller hears the agent's
// line before Twilio takes the call elsewhere.
import { DEFAULT_TWILIO_API_BASE, redirectTwilioCall } from "../../telephony/twilio-rest.ts";
import type { LedgerCore } from "./core.ts";
import { emit } from "./hand-offs.ts";
import type { SessionResult } from "./session.ts";

/** Redirects the live Twilio call to the transfer number, then ends our part of the call with that reason. */
export async function carryOutTransfer(core: LedgerCore): Promise<SessionResult> {
  const stored = core.session.load();
  if (!stored?.transfer) return { ok: false, error: "not-found" };
  const transfer = stored.transfer;
  const { TWILIO_ACCOUNT_SID: accountSid, TWILIO_AUTH_TOKEN: authToken } = core.env;
  const callSid = stored.record.providerCallSid;
  let detail: string;
  if (!accountSid || !authToken || stored.record.provider !== "twilio" || !callSid) {
    detail = "the call cannot be redirected (not a Twilio call, or Twilio is not configured)";
  } else {
    await emit(core, "transfer.started", {
      callId: stored.record.callId,
      to: transfer.to,
      reason: transfer.reason ?? null,
    });
    try {
      await redirectTwilioCall(
        { accountSid, authToken, apiBase: core.env.TWILIO_API_BASE ?? DEFAULT_TWILIO_API_BASE },
        callSid,
        transferTwiml(transfer.to),
      );
      stored.transfer = { ...transfer, status: "done" };
      core.session.save(stored);
      core.log(stored, { type: "transfer_call", ok: true, at: Date.now(), detail: `transferred to ${transfer.to}` });
      await emit(core, "transfer.ended", {
        callId: stored.record.callId,
        to: transfer.to,
        outcome: "redirected",
        detail: null,
      });
      return core.end({ status: "completed", reason: `transferred to ${transfer.to}` }, "edge");
    } catch (error) {
      detail = `Twilio refused the redirect: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  // The caller stays with the agent; the node is not told (the model already spoke), so say it loudly here.
  console.warn("call-ledger: transfer failed", { call: core.name(), detail });
  const latest = core.session.load() ?? stored;
  latest.transfer = { ...transfer, status: "failed", detail };
  core.session.save(latest);
  core.log(latest, { type: "transfer_call", ok: false, at: Date.now(), detail });
  await emit(core, "transfer.ended", { callId: latest.record.callId, to: transfer.to, outcome: "failed", detail });
  return { ok: true, snapshot: core.session.snapshot(latest) };
}

/** The TwiML a transferred call runs: dial the number (E.164, checked, so nothing here needs escaping). */
export function transferTwiml(to: string): string {
  if (!/^\+[1-9]\d{6,14}$/.test(to)) throw new Error("transfer target must be E.164");
  return `<?xml version="1.0" encoding="UTF-8"?><Response><Dial>${to}</Dial></Response>`;
}
