// Telling the carrier that a call whose media node is gone is over: the caller hears one sentence instead of dead
// air, and the carrier stops billing a call nobody serves. Best effort: the call record ends either way.
import type { CallControlEnv } from "../../call-control-env.ts";
import { hangup, sendTelnyxCommand } from "../../telephony/telnyx.ts";
import { redirectTwilioCall, twilioCredentials } from "../../telephony/twilio-rest.ts";
import { sayAndHangUpTwiml } from "../../telephony/twiml.ts";
import type { CallRecord } from "./records.ts";

export const LOST_CALL_SPEECH = "We're sorry, we lost the connection to your call. Please call back.";

export async function hangUpLostCall(env: CallControlEnv, record: CallRecord): Promise<void> {
  const carrierCallId = record.providerCallSid;
  if (!carrierCallId) return;
  try {
    if (record.provider === "twilio") {
      const credentials = twilioCredentials(env);
      if (credentials) await redirectTwilioCall(credentials, carrierCallId, sayAndHangUpTwiml(LOST_CALL_SPEECH));
    } else if (record.provider === "telnyx" && env.TELNYX_API_KEY) {
      await sendTelnyxCommand(env, hangup(carrierCallId));
    }
  } catch (error) {
    // Most often the carrier already ended the call itself; the record is ended regardless.
    console.warn("call-ledger: could not hang up a call whose media node was lost", {
      callId: record.callId,
      error: String(error),
    });
  }
}
