// Twilio's side of an inbound call before the media stream: the signed voice webhook (form POST), reading the TwiML
// answer, then opening `<Connect><Stream>` with its `<Parameter>`s (status callbacks: status-callback.ts).
import { type NextStream, newAccountSid, newCallSid, SimulatedCaller, type SimulatedCallerOptions } from "./caller.ts";
import { postSignedForm } from "./signed-form.ts";
import { parseTwiml, type TwimlVerb } from "./twiml.ts";
import { voiceWebhookParams } from "./voice-params.ts";

export { signTwilioRequest, type TwilioParams } from "./signature.ts";
export { parseTwiml, parseXml, TwimlError, type TwimlVerb } from "./twiml.ts";

/** Twilio answers a failed webhook with this, and logs an error code. */
export const TWILIO_APPLICATION_ERROR_SPEECH = "We are sorry, an application error has occurred. Goodbye.";
const MAX_REDIRECTS = 5;

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
  caller?: Omit<
    SimulatedCallerOptions,
    "streamUrl" | "customParameters" | "callSid" | "accountSid" | "authToken" | "onStreamEnd"
  >;
}

/** Resolves a `<Stream url>` as Twilio would: relative to the webhook URL, http(s) mapped to ws(s). */
export function resolveStreamUrl(streamUrl: string, voiceUrl: string): string {
  const u = new URL(streamUrl, voiceUrl);
  if (u.protocol === "https:") u.protocol = "wss:";
  else if (u.protocol === "http:") u.protocol = "ws:";
  return u.toString();
}

type Followed =
  | { kind: "stream"; stream: StreamInstruction; afterStream: TwimlVerb[]; twiml: TwimlVerb[]; url: string }
  | { kind: "ended"; rejected: string | null; twiml: TwimlVerb[] }
  | { kind: "error"; code: number; httpStatus: number | null; message: string };

/**
 * Runs TwiML as Twilio does until the call either reaches a `<Connect><Stream>` or ends: `<Say>` is heard (collected
 * into `spoken`), `<Redirect>` fetches the next document (signed, same params), `<Hangup>`/`<Reject>` or the end of
 * the document end the call. Starts with `verbs` of the document at `url`, or fetches `url` first when there are none.
 */
async function followTwiml(
  start: { url: string; verbs?: TwimlVerb[] | undefined },
  params: Record<string, string>,
  authToken: string,
  spoken: string[],
): Promise<Followed> {
  let url = start.url;
  let pending = start.verbs;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    let twiml: TwimlVerb[];
    let httpStatus: number | null = null;
    if (pending) {
      twiml = pending;
      pending = undefined;
    } else {
      const res = await postSignedForm(url, authToken, params);
      httpStatus = res.status;
      if (res.status < 200 || res.status >= 300) {
        return {
          kind: "error",
          code: 11200,
          httpStatus,
          message: `${url} answered HTTP ${res.status}: ${res.body.slice(0, 200)}`,
        };
      }
      try {
        twiml = parseTwiml(res.body);
      } catch (err) {
        return {
          kind: "error",
          code: 12100,
          httpStatus,
          message: `${url} answered a document that is not TwiML: ${(err as Error).message}`,
        };
      }
    }
    let redirected = false;
    for (const [i, verb] of twiml.entries()) {
      if (verb.verb === "Say") spoken.push(verb.text);
      else if (verb.verb === "Hangup" || verb.verb === "Reject") {
        return { kind: "ended", rejected: verb.verb === "Reject" ? verb.reason : null, twiml };
      } else if (verb.verb === "Redirect") {
        url = new URL(verb.url, url).toString();
        redirected = true;
        break;
      } else if (verb.verb === "Connect") {
        if (!verb.stream) return { kind: "error", code: 12100, httpStatus, message: "<Connect> without a <Stream>" };
        const streamUrl = resolveStreamUrl(verb.stream.url, url);
        if (new URL(streamUrl).search) {
          return {
            kind: "error",
            code: 31920,
            httpStatus: null,
            message: `<Stream url> must not carry a query string (${streamUrl}); use <Parameter>`,
          };
        }
        return {
          kind: "stream",
          stream: { ...verb.stream, url: streamUrl },
          afterStream: twiml.slice(i + 1),
          twiml,
          url,
        };
      }
    }
    if (!redirected) return { kind: "ended", rejected: null, twiml };
  }
  return { kind: "error", code: 11200, httpStatus: null, message: `more than ${MAX_REDIRECTS} <Redirect>s` };
}

/**
 * Rings the platform the way Twilio does for an inbound call: signed form POST to the Voice URL, TwiML answer
 * followed (`<Redirect>` too), and for `<Connect><Stream>` a SimulatedCaller connected with the `<Parameter>`s.
 * When the server ends the stream while the caller is on the line, the rest of the TwiML runs, as on Twilio: a
 * `<Redirect>` is fetched (signed, `CallStatus=in-progress`) and a new `<Connect><Stream>` is opened by the same
 * caller, who keeps talking across the switch.
 */
export async function placeCallViaWebhook(options: PlaceCallViaWebhookOptions): Promise<WebhookCallResult> {
  const callSid = options.callSid ?? newCallSid();
  const accountSid = options.accountSid ?? newAccountSid();
  const ids = { callSid, accountSid };
  const params = {
    ...voiceWebhookParams({ callSid, accountSid, from: options.from, to: options.to }),
    ...options.extraParams,
  };
  const spoken: string[] = [];
  const followed = await followTwiml({ url: options.voiceUrl }, params, options.authToken, spoken);
  if (followed.kind === "error") {
    return {
      outcome: "error",
      ...ids,
      code: followed.code,
      httpStatus: followed.httpStatus,
      message: followed.message,
      spoken: [TWILIO_APPLICATION_ERROR_SPEECH],
    };
  }
  if (followed.kind === "ended") {
    return { outcome: "refused", ...ids, spoken, rejected: followed.rejected, twiml: followed.twiml };
  }
  // The document the current stream came from, and what follows the stream in it.
  let current = followed;
  const inCall = { ...params, CallStatus: "in-progress" };
  const onStreamEnd = async (): Promise<NextStream | null> => {
    const next = await followTwiml({ url: current.url, verbs: current.afterStream }, inCall, options.authToken, spoken);
    if (next.kind === "error") {
      // Twilio would speak its application error and hang up.
      spoken.push(TWILIO_APPLICATION_ERROR_SPEECH);
      return null;
    }
    if (next.kind === "ended") return null;
    current = next;
    return { streamUrl: next.stream.url, customParameters: next.stream.parameters };
  };
  let caller: SimulatedCaller;
  try {
    caller = await SimulatedCaller.connect({
      ...options.caller,
      streamUrl: followed.stream.url,
      customParameters: followed.stream.parameters,
      callSid,
      accountSid,
      authToken: options.authToken,
      onStreamEnd,
    });
  } catch (err) {
    return {
      outcome: "error",
      ...ids,
      code: 31920,
      httpStatus: null,
      message: (err as Error).message,
      spoken: [TWILIO_APPLICATION_ERROR_SPEECH],
    };
  }
  return {
    outcome: "connected",
    ...ids,
    caller,
    stream: followed.stream,
    spoken,
    afterStream: followed.afterStream,
    twiml: followed.twiml,
  };
}
