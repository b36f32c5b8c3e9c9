// Twilio's REST API, the two requests the edge makes: create a call, send an SMS. Form-encoded bodies,
// PascalCase parameter names, HTTP Basic auth with AccountSid:AuthToken, 201 + JSON on success
// (protocols.md §1.6). The base URL is configurable so tests and local runs point at a fake Twilio.
import { z } from "zod";

export const DEFAULT_TWILIO_API_BASE = "https://api.twilio.com";

export interface TwilioCredentials {
  accountSid: string;
  authToken: string;
  /** Default https://api.twilio.com. */
  apiBase?: string | undefined;
  fetch?: typeof fetch | undefined;
}

/** The edge's Twilio account from its bindings, or undefined when this deployment has none configured. */
export function twilioCredentials(env: {
  TWILIO_ACCOUNT_SID?: string | undefined;
  TWILIO_AUTH_TOKEN?: string | undefined;
  TWILIO_API_BASE?: string | undefined;
}): TwilioCredentials | undefined {
  if (!env.TWILIO_ACCOUNT_SID || !env.TWILIO_AUTH_TOKEN) return undefined;
  return {
    accountSid: env.TWILIO_ACCOUNT_SID,
    authToken: env.TWILIO_AUTH_TOKEN,
    apiBase: env.TWILIO_API_BASE ?? DEFAULT_TWILIO_API_BASE,
  };
}

export class TwilioApiError extends Error {
  constructor(
    readonly status: number,
    /** Twilio's error code (e.g. 21211 invalid To), when the body carried one. */
    readonly code: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = "TwilioApiError";
  }
}

const createdSchema = z.object({ sid: z.string().min(1), status: z.string().optional() });
const errorSchema = z.object({ code: z.number().optional(), message: z.string().optional() });

type FormValue = string | number | boolean | readonly string[] | undefined;

function formBody(params: Record<string, FormValue>): string {
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) form.append(key, item);
    else form.append(key, String(value));
  }
  return form.toString();
}

async function post(credentials: TwilioCredentials, resource: string, params: Record<string, FormValue>) {
  const base = (credentials.apiBase ?? DEFAULT_TWILIO_API_BASE).replace(/\/$/, "");
  const url = `${base}/2010-04-01/Accounts/${encodeURIComponent(credentials.accountSid)}/${resource}.json`;
  const response = await (credentials.fetch ?? fetch)(url, {
    method: "POST",
    headers: {
      authorization: `Basic ${btoa(`${credentials.accountSid}:${credentials.authToken}`)}`,
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
    },
    body: formBody(params),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (response.status !== 201 && response.status !== 200) {
    const error = errorSchema.safeParse(json);
    const detail = error.success ? error.data.message : undefined;
    throw new TwilioApiError(
      response.status,
      error.success ? error.data.code : undefined,
      detail ?? `Twilio answered ${response.status}`,
    );
  }
  const created = createdSchema.safeParse(json);
  if (!created.success) throw new TwilioApiError(response.status, undefined, "Twilio's answer had no sid");
  return created.data;
}

export interface CreateCallParams {
  to: string;
  from: string;
  /** TwiML URL Twilio fetches (POST) when the callee answers. */
  url: string;
  statusCallback: string;
  /** Ring time in seconds before Twilio gives up with no-answer. */
  timeoutSeconds?: number | undefined;
  machineDetection?: "Enable" | "DetectMessageEnd" | undefined;
}

/** POST /2010-04-01/Accounts/{AccountSid}/Calls.json; returns the new CallSid. */
export async function createTwilioCall(credentials: TwilioCredentials, params: CreateCallParams) {
  return post(credentials, "Calls", {
    To: params.to,
    From: params.from,
    Url: params.url,
    Method: "POST",
    StatusCallback: params.statusCallback,
    StatusCallbackMethod: "POST",
    StatusCallbackEvent: ["initiated", "ringing", "answered", "completed"],
    Timeout: params.timeoutSeconds,
    MachineDetection: params.machineDetection,
  });
}

/** POST /2010-04-01/Accounts/{AccountSid}/Messages.json; returns the new MessageSid. */
export async function sendTwilioSms(
  credentials: TwilioCredentials,
  params: { to: string; from: string; body: string; statusCallback?: string | undefined },
) {
  return post(credentials, "Messages", {
    To: params.to,
    From: params.from,
    Body: params.body,
    StatusCallback: params.statusCallback,
  });
}

/**
 * POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json with `Twiml`: Twilio stops what the live call is doing
 * (our media stream ends) and runs the new TwiML instead. Used to transfer a call.
 */
export async function redirectTwilioCall(credentials: TwilioCredentials, callSid: string, twiml: string) {
  return post(credentials, `Calls/${encodeURIComponent(callSid)}`, { Twiml: twiml });
}
