// Inbound calls get a call ID derived from the carrier's own call identifier. Every webhook about the call
// (a retried voice webhook, the status callback, which carries only the CallSid) then names the same
// CallLedger without a lookup table, and the ID still looks like every other `call_` resource ID.
import { ID_ALPHABET, type ResourceId } from "../../../../shared/ids.ts";

const ALPHABET = ID_ALPHABET.toLowerCase();

export async function callIdForCarrierCall(
  provider: "twilio" | "telnyx",
  carrierCallId: string,
): Promise<ResourceId<"call">> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`aybiza-call:${provider}:${carrierCallId}`)),
  );
  let body = "";
  // 20 symbols from 29: each byte modulo 29 is slightly uneven, which costs a fraction of a bit of the 97;
  // these IDs name calls, they are not secrets.
  for (let i = 0; i < 20; i++) body += ALPHABET[(digest[i] ?? 0) % ALPHABET.length];
  return `call_${body}`;
}
