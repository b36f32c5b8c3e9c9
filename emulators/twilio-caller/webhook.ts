// Twilio's side of an inbound call before the media stream: the signed voice webhook (form POST), reading the TwiML
// answer, then opening `<Connect><Stream>` with its `<Parameter>`s, plus signed status callbacks.
import { randomUUID } from "node:crypto";
import { CallerError, newAccountSid, newCallSid, SimulatedCaller, type SimulatedCallerOptions } from "./caller.ts";
import { signTwilioRequest } from "./signature.ts";
import { parseTwiml, type TwimlVerb } from "./twiml.ts";

export { signTwilioRequest, type TwilioParams } from "./signature.ts";
export { parseTwiml, parseXml, TwimlError, type TwimlVerb } from "./twiml.ts";

/** Twilio answers a failed webhook with this, and logs an error code. */
export const TWILIO_APPLICATION_ERROR_SPEECH = "We are sorry, an application error has occurred. Goodbye.";
/** Twilio's timeout for a voice webhook response. */
const WEBHOOK_TIMEOUT_MS = 15_000;
const MAX_REDIRECTS = 5;

// E.164 country calling codes → ISO country, longest prefix first; enough for realistic FromCountry/ToCountry.
const COUNTRY_CODES: [string, string][] = (
  [
    ["1", "US"],
    ["7", "RU"],
    ["20", "EG"],
    ["27", "ZA"],
    ["30", "GR"],
    ["31", "NL"],
    ["32", "BE"],
    ["33", "FR"],
    ["34", "ES"],
    ["36", "HU"],
    ["39", "IT"],
    ["40", "RO"],
    ["41", "CH"],
    ["43", "AT"],
    ["44", "GB"],
    ["45", "DK"],
    ["46", "SE"],
    ["47", "NO"],
    ["48", "PL"],
    ["49", "DE"],
    ["52", "MX"],
    ["54", "AR"],
    ["55", "BR"],
    ["56", "CL"],
    ["57", "CO"],
    ["60", "MY"],
    ["61", "AU"],
    ["62", "ID"],
    ["63", "PH"],
    ["64", "NZ"],
    ["65", "SG"],
    ["66", "TH"],
    ["81", "JP"],
    ["82", "KR"],
    ["84", "VN"],
    ["86", "CN"],
    ["90", "TR"],
    ["91", "IN"],
    ["234", "NG"],
    ["254", "KE"],
    ["351", "PT"],
    ["352", "LU"],
    ["353", "IE"],
    ["358", "FI"],
    ["420", "CZ"],
    ["852", "HK"],
    ["886", "TW"],
    ["966", "SA"],
    ["971", "AE"],
    ["972", "IL"],
  ] as [string, string][]
).sort((a, b) => b[0].length - a[0].length);

/** ISO country of an E.164 number ("+447700900123" → "GB"), or undefined. */
export function countryOf(e164: string): string | undefined {
  const digits = /^\+(\d+)$/.exec(e164)?.[1];
  if (!digits) return undefined;
  return COUNTRY_CODES.find(([code]) => digits.startsWith(code))?.[1];
}

export interface SignedPostResult {
  status: number;
  contentType: string;
  body: string;
}

/** POSTs form params signed with X-Twilio-Signature, with the headers Twilio sends. */
export async function postSignedForm(
  url: string,
  authToken: string,
  params: Record<string, string>,
  timeoutMs = WEBHOOK_TIMEOUT_MS,
): Promise<SignedPostResult> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signTwilioRequest(authToken, url, params),
        "I-Twilio-Idempotency-Token": randomUUID(),
        "User-Agent": "TwilioProxy/1.1",
        Accept: "*/*",
      },
      body: new URLSearchParams(params).toString(),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw describeFetchError(url, err, timeoutMs);
  }
  return { status: res.status, contentType: res.headers.get("content-type") ?? "", body: await res.text() };
}

function describeFetchError(url: string, err: unknown, timeoutMs: number): CallerError {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === "TimeoutError") return new CallerError(`${url} did not answer within ${timeoutMs} ms`, "ETIMEDOUT");
  const code = e.cause?.code ?? "EFETCH";
  if (code === "ECONNREFUSED") {
    return new CallerError(`nothing is listening at ${url}; start the platform with npm start`, code);
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return new CallerError(`cannot resolve the host of ${url}`, code);
  return new CallerError(`cannot reach ${url}: ${e.cause?.message ?? e.message ?? String(err)}`, code);
}

export interface StreamInstruction {
  /** The stream URL as Twilio would open it (relative URLs resolved against the webhook URL). */
  url: string;
  name?: string;
  track?: string;
  statusCallback?: string;
  statusCallbackMethod?: string;
  parameters: Record<string, string>;
}

export type WebhookCallResult =
  | {
      outcome: "connected";
      callSid: string;
      accountSid: string;
      caller: SimulatedCaller;
      stream: StreamInstruction;
      /** `<Say>` text spoken before the stream opened. */
      spoken: string[];
      /** Verbs Twilio runs once the server closes the stream. */
      afterStream: TwimlVerb[];
      twiml: TwimlVerb[];
    }
  | {
      /** The platform answered without a stream: spoke, rejected or hung up. */
      outcome: "refused";
      callSid: string;
      accountSid: string;
      spoken: string[];
      rejected: string | null;
      twiml: TwimlVerb[];
    }
  | {
      /** What Twilio logs as an error and answers with its application-error speech. */
      outcome: "error";
      callSid: string;
      accountSid: string;
      /** Twilio error code: 11200 HTTP retrieval failure, 12100 document parse failure, 31920 stream handshake. */
      code: number;
      httpStatus: number | null;
      message: string;
      spoken: string[];
    };

export interface PlaceCallViaWebhookOptions {
  /** The number's Voice URL, e.g. http://127.0.0.1:8787/v1/telephony/twilio/voice */
  voiceUrl: string;
  authToken: string;
  from: string;
  to: string;
  callSid?: string;
  accountSid?: string;
  /** Added to (or overriding) the standard webhook params. */
  extraParams?: Record<string, string>;
  /** Options for the SimulatedCaller opened on the stream. */
  caller?: Omit<SimulatedCallerOptions, "streamUrl" | "customParameters" | "callSid" | "accountSid" | "authToken">;
}

/** The form params of Twilio's inbound voice webhook for a ringing call. */
export function voiceWebhookParams(o: {
  callSid: string;
  accountSid: string;
  from: string;
  to: string;
}): Record<string, string> {
  const fromCountry = countryOf(o.from) ?? "";
  const toCountry = countryOf(o.to) ?? "";
  return {
    AccountSid: o.accountSid,
    ApiVersion: "2010-04-01",
    CallSid: o.callSid,
    CallStatus: "ringing",
    Called: o.to,
    CalledCity: "",
    CalledCountry: toCountry,
    CalledState: "",
    CalledZip: "",
    Caller: o.from,
    CallerCity: "",
    CallerCountry: fromCountry,
    CallerState: "",
    CallerZip: "",
    Direction: "inbound",
    From: o.from,
    FromCity: "",
    FromCountry: fromCountry,
    FromState: "",
    FromZip: "",
    To: o.to,
    ToCity: "",
    ToCountry: toCountry,
    ToState: "",
    ToZip: "",
  };
}

/** Resolves a `<Stream url>` as Twilio would: relative to the webhook URL, http(s) mapped to ws(s). */
export function resolveStreamUrl(streamUrl: string, voiceUrl: string): string {
  const u = new URL(streamUrl, voiceUrl);
  if (u.protocol === "https:") u.protocol = "wss:";
  else if (u.protocol === "http:") u.protocol = "ws:";
  return u.toString();
}

/**
 * Rings the platform the way Twilio does for an inbound call: signed form POST to the Voice URL, TwiML answer
 * followed (`<Redirect>` too), and for `<Connect><Stream>` a SimulatedCaller connected with the `<Parameter>`s.
 */
export async function placeCallViaWebhook(options: PlaceCallViaWebhookOptions): Promise<WebhookCallResult> {
  const callSid = options.callSid ?? newCallSid();
  const accountSid = options.accountSid ?? newAccountSid();
  const ids = { callSid, accountSid };
  const params = {
    ...voiceWebhookParams({ callSid, accountSid, from: options.from, to: options.to }),
    ...options.extraParams,
  };
  const fail = (code: number, message: string, httpStatus: number | null = null): WebhookCallResult => ({
    outcome: "error",
    ...ids,
    code,
    httpStatus,
    message,
    spoken: [TWILIO_APPLICATION_ERROR_SPEECH],
  });

  let url = options.voiceUrl;
  const spoken: string[] = [];
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await postSignedForm(url, options.authToken, params);
    if (res.status < 200 || res.status >= 300) {
      return fail(11200, `${url} answered HTTP ${res.status}: ${res.body.slice(0, 200)}`, res.status);
    }
    let twiml: TwimlVerb[];
    try {
      twiml = parseTwiml(res.body);
    } catch (err) {
      return fail(12100, `${url} answered a document that is not TwiML: ${(err as Error).message}`, res.status);
    }
    for (const [i, verb] of twiml.entries()) {
      if (verb.verb === "Say") spoken.push(verb.text);
      else if (verb.verb === "Hangup" || verb.verb === "Reject") {
        return { outcome: "refused", ...ids, spoken, rejected: verb.verb === "Reject" ? verb.reason : null, twiml };
      } else if (verb.verb === "Redirect") {
        url = new URL(verb.url, url).toString();
        break;
      } else if (verb.verb === "Connect") {
        if (!verb.stream) return fail(12100, "<Connect> without a <Stream>", res.status);
        const streamUrl = resolveStreamUrl(verb.stream.url, url);
        if (new URL(streamUrl).search) {
          return fail(31920, `<Stream url> must not carry a query string (${streamUrl}); use <Parameter>`);
        }
        const stream: StreamInstruction = { ...verb.stream, url: streamUrl };
        let caller: SimulatedCaller;
        try {
          caller = await SimulatedCaller.connect({
            ...options.caller,
            streamUrl,
            customParameters: stream.parameters,
            callSid,
            accountSid,
            authToken: options.authToken,
          });
        } catch (err) {
          return fail(31920, (err as Error).message);
        }
        return { outcome: "connected", ...ids, caller, stream, spoken, afterStream: twiml.slice(i + 1), twiml };
      }
      if (i === twiml.length - 1) return { outcome: "refused", ...ids, spoken, rejected: null, twiml };
    }
    if (twiml.length === 0) return { outcome: "refused", ...ids, spoken, rejected: null, twiml };
  }
  return fail(11200, `more than ${MAX_REDIRECTS} <Redirect>s`);
}

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
