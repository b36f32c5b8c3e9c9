import { describe, expect, it } from "vitest";
import { computeTwilioSignature, validateTwilioSignature } from "../../../shared/twilio-signature.ts";
import {
  firstValues,
  parseTwilioForm,
  twilioStatusCallbackSchema,
  twilioVoiceWebhookSchema,
} from "../../../workers/src/telephony/twilio-webhooks.ts";

const CALL_SID = `CA${"a".repeat(32)}`;
const ACCOUNT_SID = `AC${"b".repeat(32)}`;

describe("Twilio webhook forms", () => {
  it("keep repeated keys so the signature covers every value", async () => {
    const body = "StatusCallbackEvent=initiated&StatusCallbackEvent=answered&To=%2B14155550123";
    const form = parseTwilioForm(body);
    expect(form.StatusCallbackEvent).toEqual(["initiated", "answered"]);
    const url = "https://edge.example.com/v1/telephony/twilio/status";
    const signature = await computeTwilioSignature("token", url, new URLSearchParams(body));
    expect(await validateTwilioSignature("token", signature, url, form)).toBe(true);
  });

  it("validate the fields the voice handler reads and let unknown ones through", () => {
    const form = parseTwilioForm(
      new URLSearchParams({
        CallSid: CALL_SID,
        AccountSid: ACCOUNT_SID,
        To: "+14155550123",
        From: "anonymous",
        FromCity: "X",
      }).toString(),
    );
    const parsed = twilioVoiceWebhookSchema.parse(firstValues(form));
    expect(parsed).toMatchObject({ CallSid: CALL_SID, To: "+14155550123", From: "anonymous" });
  });

  it("reject a malformed CallSid and unknown call statuses", () => {
    expect(twilioVoiceWebhookSchema.safeParse({ CallSid: "CA123", AccountSid: ACCOUNT_SID, To: "+1" }).success).toBe(
      false,
    );
    expect(
      twilioStatusCallbackSchema.safeParse({ CallSid: CALL_SID, AccountSid: ACCOUNT_SID, CallStatus: "exploded" })
        .success,
    ).toBe(false);
    expect(
      twilioStatusCallbackSchema.parse({
        CallSid: CALL_SID,
        AccountSid: ACCOUNT_SID,
        CallStatus: "no-answer",
        CallDuration: "0",
      }),
    ).toMatchObject({ CallStatus: "no-answer", CallDuration: 0 });
  });
});
