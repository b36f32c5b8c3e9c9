// Minting call tokens at the edge. The signing key is imported once per isolate (importKey is the slow part).
import { type CallTokenSigner, type CallTokenSubject, importCallTokenSigner } from "../../../shared/call-token.ts";

/** Long enough for Twilio to open the stream after reading the TwiML, short enough to be useless later. */
export const CALL_TOKEN_TTL_MS = 60_000;

let cached: { key: string; signer: Promise<CallTokenSigner> } | undefined;

export class CallTokenConfigError extends Error {
  constructor() {
    super("CALL_TOKEN_PRIVATE_KEY and CALL_TOKEN_KID must be set to mint call tokens");
    this.name = "CallTokenConfigError";
  }
}

function signerFor(env: { CALL_TOKEN_PRIVATE_KEY?: string | undefined; CALL_TOKEN_KID?: string | undefined }) {
  const privateKey = env.CALL_TOKEN_PRIVATE_KEY?.trim();
  const kid = env.CALL_TOKEN_KID?.trim();
  if (!privateKey || !kid) throw new CallTokenConfigError();
  const key = `${kid}:${privateKey}`;
  if (cached?.key !== key) {
    const signer = importCallTokenSigner(privateKey, kid);
    // A bad key must not stay cached as a rejected promise for the isolate's lifetime.
    signer.catch(() => {
      if (cached?.key === key) cached = undefined;
    });
    cached = { key, signer };
  }
  return cached.signer;
}

export async function mintCallToken(
  env: { CALL_TOKEN_PRIVATE_KEY?: string | undefined; CALL_TOKEN_KID?: string | undefined },
  subject: CallTokenSubject,
  ttlMs: number = CALL_TOKEN_TTL_MS,
): Promise<string> {
  return (await signerFor(env)).sign(subject, { ttlMs });
}

/** The nonce inside a token this edge minted (what the node proves it holds when it claims a resume). */
export function tokenNonce(token: string): string {
  const payload = token.split(".")[2] ?? "";
  const json = atob(payload.replaceAll("-", "+").replaceAll("_", "/"));
  const nonce = (JSON.parse(json) as { nonce?: unknown }).nonce;
  if (typeof nonce !== "string") throw new Error("call token without a nonce");
  return nonce;
}
