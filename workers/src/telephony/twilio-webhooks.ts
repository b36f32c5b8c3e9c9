// Twilio's form-encoded webhooks: reading the body once (the signature covers every parameter, the handler uses
// a few) and zod schemas for the fields each handler relies on. Unknown parameters pass through untouched:
// Twilio adds fields over time and the signature must still be computed over all of them.
import { z } from "zod";

/** Every POST parameter; a key Twilio repeats keeps all its values (the signature needs each of them). */
export type TwilioForm = Record<string, string | string[]>;

export function parseTwilioForm(body: string): TwilioForm {
  // No prototype: a parameter named `toString` or `__proto__` is a parameter like any other (the signature covers it).
  const form: TwilioForm = Object.create(null);
  for (const [key, value] of new URLSearchParams(body)) {
    const existing = form[key];
    if (existing === undefined) form[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else form[key] = [existing, value];
  }
  return form;
}

/** The first value of each key, for schema validation of the fields a handler reads. */
export function firstValues(form: TwilioForm): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [key, value] of Object.entries(form)) out[key] = Array.isArray(value) ? (value[0] ?? "") : value;
  return out;
}

// 34-character SIDs: two-letter type prefix and 32 hex digits.
const sid = (prefix: string) => z.string().regex(new RegExp(`^${prefix}[0-9a-fA-F]{32}$`), `Expected a ${prefix} SID`);

export const callSidSchema = sid("CA");

export const twilioVoiceWebhookSchema = z.object({
  CallSid: callSidSchema,
  AccountSid: sid("AC"),
  /** Our number. */
  To: z.string().min(1),
  /** The caller; may be `anonymous` or a non-E.164 string when caller ID is withheld. */
  From: z.string().default(""),
  CallStatus: z.string().optional(),
  Direction: z.string().optional(),
});
export type TwilioVoiceWebhook = z.infer<typeof twilioVoiceWebhookSchema>;

/** A TwiML request during a call (the <Redirect> after a stream): Twilio's standard parameters. */
export const twilioRedirectSchema = z.object({
  CallSid: callSidSchema,
  AccountSid: sid("AC"),
  CallStatus: z.string().optional(),
});

export const TWILIO_FINAL_STATUSES = ["completed", "busy", "no-answer", "failed", "canceled"] as const;
export type TwilioFinalStatus = (typeof TWILIO_FINAL_STATUSES)[number];

export const twilioStatusCallbackSchema = z.object({
  CallSid: callSidSchema,
  AccountSid: sid("AC"),
  CallStatus: z.enum(["queued", "initiated", "ringing", "in-progress", "answered", ...TWILIO_FINAL_STATUSES]),
  CallDuration: z.coerce.number().int().min(0).optional(),
  AnsweredBy: z.string().optional(),
});
export type TwilioStatusCallback = z.infer<typeof twilioStatusCallbackSchema>;

export function isFinalStatus(status: string): status is TwilioFinalStatus {
  return (TWILIO_FINAL_STATUSES as readonly string[]).includes(status);
}

export const twilioInboundSmsSchema = z.object({
  // SM for SMS, MM for MMS.
  MessageSid: z.string().regex(/^(SM|MM)[0-9a-fA-F]{32}$/, "Expected an SM or MM SID"),
  AccountSid: sid("AC"),
  From: z.string().min(1),
  To: z.string().min(1),
  Body: z.string().default(""),
});
export type TwilioInboundSms = z.infer<typeof twilioInboundSmsSchema>;
