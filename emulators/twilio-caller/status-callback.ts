// The signed call-progress callback Twilio POSTs to a StatusCallback URL as a call moves on (e.g. completed).
import { newAccountSid } from "./caller.ts";
import { postSignedForm, type SignedPostResult } from "./signed-form.ts";

export type CallStatus =
  | "queued"
  | "initiated"
  | "ringing"
  | "in-progress"
  | "completed"
  | "busy"
  | "failed"
  | "no-answer"
  | "canceled";

export interface StatusCallbackOptions {
  statusUrl: string;
  authToken: string;
  callSid: string;
  accountSid?: string;
  status: CallStatus;
  /** Seconds; sent as CallDuration on a completed call. */
  duration?: number;
  from?: string;
  to?: string;
  direction?: "inbound" | "outbound-api" | "outbound-dial";
  sequenceNumber?: number;
  extraParams?: Record<string, string>;
}

/** The signed call-progress callback Twilio POSTs to a StatusCallback URL. */
export async function sendStatusCallback(o: StatusCallbackOptions): Promise<SignedPostResult> {
  const params: Record<string, string> = {
    AccountSid: o.accountSid ?? newAccountSid(),
    ApiVersion: "2010-04-01",
    CallSid: o.callSid,
    CallStatus: o.status,
    CallbackSource: "call-progress-events",
    Direction: o.direction ?? "inbound",
    From: o.from ?? "",
    To: o.to ?? "",
    Called: o.to ?? "",
    Caller: o.from ?? "",
    SequenceNumber: String(o.sequenceNumber ?? 0),
    Timestamp: new Date().toUTCString().replace("GMT", "+0000"),
    ...(o.duration !== undefined
      ? { CallDuration: String(Math.round(o.duration)), Duration: String(Math.ceil(o.duration / 60)) }
      : {}),
    ...o.extraParams,
  };
  return postSignedForm(o.statusUrl, o.authToken, params);
}
