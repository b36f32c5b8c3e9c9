import { describe, expect, it } from "vitest";
import {
  decodeClientState,
  encodeClientState,
  statusForHangupCause,
  verifyTelnyxSignature,
} from "../../../workers/src/telephony/telnyx.ts";

function b64(bytes: ArrayBuffer | Uint8Array): string {
  return btoa(String.fromCharCode(...new Uint8Array(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes))));
}

async function telnyxKeys() {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const publicKey = b64((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  const sign = async (timestamp: string, body: string) =>
    b64(
      await crypto.subtle.sign({ name: "Ed25519" }, pair.privateKey, new TextEncoder().encode(`${timestamp}|${body}`)),
    );
  return { publicKey, sign };
}

describe("Telnyx webhook signatures", () => {
  it("accept the signature over timestamp|body", async () => {
    const { publicKey, sign } = await telnyxKeys();
    const body = JSON.stringify({ data: { event_type: "call.initiated" } });
    const nowMs = 1_700_000_000_000;
    const timestamp = String(nowMs / 1000);
    const verdict = await verifyTelnyxSignature({
      publicKey,
      rawBody: body,
      signature: await sign(timestamp, body),
      timestamp,
      nowMs,
    });
    expect(verdict).toEqual({ ok: true });
  });

  it("reject a changed body, a changed timestamp, a missing header and a stale timestamp", async () => {
    const { publicKey, sign } = await telnyxKeys();
    const nowMs = 1_700_000_000_000;
    const timestamp = String(nowMs / 1000);
    const signature = await sign(timestamp, "{}");
    const check = (over: Partial<Parameters<typeof verifyTelnyxSignature>[0]>) =>
      verifyTelnyxSignature({ publicKey, rawBody: "{}", signature, timestamp, nowMs, ...over });
    expect(await check({ rawBody: "{ }" })).toEqual({ ok: false, reason: "invalid" });
    expect(await check({ timestamp: String(nowMs / 1000 + 1) })).toEqual({ ok: false, reason: "invalid" });
    expect(await check({ signature: null })).toEqual({ ok: false, reason: "missing" });
    expect(await check({ signature: "not base64!" })).toEqual({ ok: false, reason: "invalid" });
    expect(await check({ nowMs: nowMs + 301_000 })).toEqual({ ok: false, reason: "stale" });
  });

  it("round-trip client state and ignore garbage", () => {
    expect(decodeClientState(encodeClientState({ callId: "call_x", refusal: "over-limit" }))).toEqual({
      callId: "call_x",
      refusal: "over-limit",
    });
    expect(decodeClientState("%%%")).toEqual({});
    expect(decodeClientState(btoa("[1,2]"))).toEqual({});
  });

  it("map hangup causes onto call statuses", () => {
    expect(statusForHangupCause("normal_clearing")).toBe("completed");
    expect(statusForHangupCause("user_busy")).toBe("busy");
    expect(statusForHangupCause("timeout")).toBe("no-answer");
    expect(statusForHangupCause("originator_cancel")).toBe("canceled");
  });
});
