// X-Twilio-Signature, computed the way Twilio computes it. Written independently of the platform's validator
// (shared/) so the edge is checked against Twilio's algorithm rather than against itself.
import { createHmac } from "node:crypto";

export type TwilioParams = Readonly<Record<string, string | readonly string[]>>;

/**
 * base64(HMAC-SHA1(authToken, url + key1 + value1 + key2 + value2 …)) with the POST params sorted by key.
 * A repeated key contributes each distinct value, sorted. For GET requests and WebSocket upgrades, params is empty
 * and the query string is part of the URL. Keys sort by UTF-16 code unit, as Twilio's own helper libraries do.
 */
export function signTwilioRequest(authToken: string, url: string, params: TwilioParams = {}): string {
  let data = url;
  for (const key of Object.keys(params).sort()) {
    const value = params[key];
    if (typeof value === "string") data += key + value;
    else if (value) for (const v of [...new Set(value)].sort()) data += key + v;
  }
  return createHmac("sha1", authToken).update(data, "utf8").digest("base64");
}
