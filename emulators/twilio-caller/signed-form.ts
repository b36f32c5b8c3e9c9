// How Twilio POSTs to an application: a form body signed with X-Twilio-Signature, the headers it sends, its
// webhook timeout, and a failure to reach the URL said in words a developer can act on.
import { randomUUID } from "node:crypto";
import { CallerError } from "./caller.ts";
import { signTwilioRequest } from "./signature.ts";

/** Twilio's timeout for a voice webhook response. */
const WEBHOOK_TIMEOUT_MS = 15_000;

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
