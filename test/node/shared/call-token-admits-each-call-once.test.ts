import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type CallTokenKeyPair,
  type CallTokenSigner,
  type CallTokenSubject,
  type CallTokenVerifier,
  DEFAULT_CLOCK_SKEW_MS,
  generateCallTokenKeyPair,
  importCallTokenSigner,
  importCallTokenVerifier,
  NonceLedger,
} from "../../../shared/call-token.ts";

const NOW = 1_764_000_000_000;
const subject: CallTokenSubject = {
  callId: "call_k3m29px47tn8q2w5hjzr",
  tenantId: "AYB-K3M2-9PX4-7TNQ",
  agentId: "agt_2345678923456789abcd",
  agentVersion: 7,
  prefixHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  region: "eu-central",
};

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

/** Signs arbitrary payload bytes with a real key, as a compromised or buggy edge could. */
async function signRaw(pair: CallTokenKeyPair, payload: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "pkcs8",
    Buffer.from(pair.privateKey, "base64url"),
    { name: "Ed25519" },
    false,
    ["sign"],
  );
  const input = `v1.${pair.kid}.${base64url(new TextEncoder().encode(payload))}`;
  const signature = await crypto.subtle.sign({ name: "Ed25519" }, key, new TextEncoder().encode(input));
  return `${input}.${base64url(new Uint8Array(signature))}`;
}

let edge: CallTokenKeyPair;
let signer: CallTokenSigner;
let verifier: CallTokenVerifier;

beforeAll(async () => {
  edge = await generateCallTokenKeyPair();
  signer = await importCallTokenSigner(edge.privateKey, edge.kid);
  verifier = await importCallTokenVerifier({ [edge.kid]: edge.publicKey });
});

describe("the media node accepts a call token", () => {
  it("signed by the edge, with the claims the edge put in, for the call it names", async () => {
    const token = await signer.sign(subject, { now: NOW, ttlMs: 30_000 });
    expect(token.split(".")).toHaveLength(4);
    expect(token.startsWith(`v1.${edge.kid}.`)).toBe(true);
    const result = await verifier.verify(token, { now: NOW + 1_000, expectedCallId: subject.callId });
    expect(result).toEqual({
      ok: true,
      claims: { ...subject, iat: NOW, exp: NOW + 30_000, nonce: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/) },
    });
  });

  it("only with a fresh nonce each time it is minted", async () => {
    const nonces = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const result = await verifier.verify(await signer.sign(subject, { now: NOW }), { now: NOW });
      if (result.ok) nonces.add(result.claims.nonce);
    }
    expect(nonces.size).toBe(50);
  });

  it("signed with the default one-minute lifetime when none is given", async () => {
    const result = await verifier.verify(await signer.sign(subject, { now: NOW }), { now: NOW });
    expect(result.ok && result.claims.exp - result.claims.iat).toBe(60_000);
  });
});

describe("the media node refuses a call token", () => {
  it("with any single character changed", async () => {
    const token = await signer.sign(subject, { now: NOW });
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
    // Every position, including the last signature character whose low bits carry no data.
    for (let at = 0; at < token.length; at++) {
      const next = alphabet[(alphabet.indexOf(token[at]!) + 1) % alphabet.length]!;
      const tampered = token.slice(0, at) + next + token.slice(at + 1);
      const result = await verifier.verify(tampered, { now: NOW });
      expect(result.ok, `position ${at}`).toBe(false);
    }
    await fc.assert(
      fc.asyncProperty(fc.nat(token.length - 1), fc.constantFrom(...alphabet), async (at, char) => {
        fc.pre(token[at] !== char);
        const tampered = token.slice(0, at) + char + token.slice(at + 1);
        expect((await verifier.verify(tampered, { now: NOW })).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it("whose claims were edited, even when re-encoded cleanly", async () => {
    const [version, kid, payload, signature] = (await signer.sign(subject, { now: NOW })).split(".");
    const claims = JSON.parse(Buffer.from(payload!, "base64url").toString("utf8"));
    for (const edit of [{ tenantId: "AYB-ZZZZ-ZZZZ-ZZZZ" }, { agentVersion: 8 }, { exp: claims.exp + 3_600_000 }]) {
      const forged = base64url(new TextEncoder().encode(JSON.stringify({ ...claims, ...edit })));
      const result = await verifier.verify([version, kid, forged, signature].join("."), { now: NOW });
      expect(result).toMatchObject({ ok: false, reason: "bad-signature" });
    }
  });

  it("signed with a key it does not hold, whatever kid the token claims", async () => {
    const stranger = await generateCallTokenKeyPair();
    const token = await (await importCallTokenSigner(stranger.privateKey, stranger.kid)).sign(subject, { now: NOW });
    expect(await verifier.verify(token, { now: NOW })).toMatchObject({ ok: false, reason: "unknown-key" });
    const impostor = await (await importCallTokenSigner(stranger.privateKey, edge.kid)).sign(subject, { now: NOW });
    expect(await verifier.verify(impostor, { now: NOW })).toMatchObject({ ok: false, reason: "bad-signature" });
  });

  it("once expired, allowing a few seconds of clock skew", async () => {
    const token = await signer.sign(subject, { now: NOW, ttlMs: 60_000 });
    const exp = NOW + 60_000;
    expect((await verifier.verify(token, { now: exp + DEFAULT_CLOCK_SKEW_MS - 1 })).ok).toBe(true);
    expect(await verifier.verify(token, { now: exp + DEFAULT_CLOCK_SKEW_MS })).toMatchObject({
      ok: false,
      reason: "expired",
    });
    const strict = await importCallTokenVerifier({ [edge.kid]: edge.publicKey }, { clockSkewMs: 0 });
    expect(await strict.verify(token, { now: exp })).toMatchObject({ ok: false, reason: "expired" });
    expect((await strict.verify(token, { now: exp - 1 })).ok).toBe(true);
  });

  it("issued in the future beyond the skew allowance", async () => {
    const token = await signer.sign(subject, { now: NOW });
    expect((await verifier.verify(token, { now: NOW - DEFAULT_CLOCK_SKEW_MS })).ok).toBe(true);
    expect(await verifier.verify(token, { now: NOW - DEFAULT_CLOCK_SKEW_MS - 1 })).toMatchObject({
      ok: false,
      reason: "not-yet-valid",
    });
  });

  it("presented on a different call", async () => {
    const token = await signer.sign(subject, { now: NOW });
    expect(await verifier.verify(token, { now: NOW, expectedCallId: "call_other" })).toMatchObject({
      ok: false,
      reason: "call-mismatch",
    });
  });

  it("that is not a v1 token, or whose signed payload is not valid claims", async () => {
    const token = await signer.sign(subject, { now: NOW });
    const [, kid, payload, signature] = token.split(".");
    for (const garbage of [
      "",
      "v1",
      token.replace(/^v1/, "v2"),
      `${token}.extra`,
      `v1..${payload}.${signature}`,
      `v1.${kid}.${payload}.${signature}==`,
      `v1.${kid}.${payload}.${signature!.slice(0, -2)}`,
      "x".repeat(10_000),
    ]) {
      expect(await verifier.verify(garbage, { now: NOW })).toMatchObject({ ok: false, reason: "malformed" });
    }
    const claims = { ...subject, iat: NOW, exp: NOW + 60_000, nonce: "abcdefghijklmnopqrstuv" };
    for (const payloadText of [
      "not json",
      JSON.stringify({ ...claims, agentVersion: "7" }),
      JSON.stringify({ ...claims, prefixHash: "XYZ" }),
      JSON.stringify({ ...claims, exp: NOW - 1 }),
      JSON.stringify({ ...claims, nonce: undefined }),
    ]) {
      const signedGarbage = await signRaw(edge, payloadText);
      expect(await verifier.verify(signedGarbage, { now: NOW })).toMatchObject({ ok: false, reason: "malformed" });
    }
    // The same route with well-formed claims does verify, so the refusals above are about the claims.
    expect((await verifier.verify(await signRaw(edge, JSON.stringify(claims)), { now: NOW })).ok).toBe(true);
  });
});

describe("key rotation", () => {
  it("accepts tokens from the old and new key while both are listed, and drops the old one after", async () => {
    const next = await generateCallTokenKeyPair();
    expect(next.kid).not.toBe(edge.kid);
    const oldToken = await signer.sign(subject, { now: NOW });
    const newToken = await (await importCallTokenSigner(next.privateKey, next.kid)).sign(subject, { now: NOW });
    const during = await importCallTokenVerifier({ [edge.kid]: edge.publicKey, [next.kid]: next.publicKey });
    expect((await during.verify(oldToken, { now: NOW })).ok).toBe(true);
    expect((await during.verify(newToken, { now: NOW })).ok).toBe(true);
    const after = await importCallTokenVerifier({ [next.kid]: next.publicKey });
    expect(await after.verify(oldToken, { now: NOW })).toMatchObject({ ok: false, reason: "unknown-key" });
    expect((await after.verify(newToken, { now: NOW })).ok).toBe(true);
  });

  it("refuses to start with a key that is not a key", async () => {
    await expect(importCallTokenSigner("bm90IGEga2V5", edge.kid)).rejects.toThrow();
    await expect(importCallTokenSigner(edge.publicKey, edge.kid)).rejects.toThrow();
    await expect(importCallTokenSigner(edge.privateKey, "has.dot")).rejects.toThrow();
    await expect(importCallTokenVerifier({ [edge.kid]: edge.privateKey })).rejects.toThrow();
    await expect(importCallTokenVerifier({})).rejects.toThrow();
  });

  it("the edge refuses to sign claims the media node would reject", async () => {
    await expect(signer.sign({ ...subject, prefixHash: "not-hex" }, { now: NOW })).rejects.toThrow();
    await expect(signer.sign({ ...subject, callId: "" }, { now: NOW })).rejects.toThrow();
    await expect(signer.sign(subject, { now: NOW, ttlMs: 0 })).rejects.toThrow();
  });
});

describe("NonceLedger: each token admits one call", () => {
  it("a replayed token is refused until long after it could verify", async () => {
    const ledger = new NonceLedger();
    const token = await signer.sign(subject, { now: NOW });
    const first = await verifier.verify(token, { now: NOW });
    if (!first.ok) throw new Error(first.message);
    expect(ledger.consume(first.claims.nonce, first.claims.exp, NOW)).toBe(true);
    // The replay still verifies cryptographically; only the ledger stops it.
    for (const later of [NOW + 1, first.claims.exp, first.claims.exp + DEFAULT_CLOCK_SKEW_MS - 1]) {
      const again = await verifier.verify(token, { now: later });
      expect(again.ok).toBe(true);
      expect(ledger.consume(first.claims.nonce, first.claims.exp, later)).toBe(false);
    }
  });

  it("admits distinct tokens independently", () => {
    const ledger = new NonceLedger();
    expect(ledger.consume("nonce-aaaaaaaaaaaaaaaa", NOW + 60_000, NOW)).toBe(true);
    expect(ledger.consume("nonce-bbbbbbbbbbbbbbbb", NOW + 60_000, NOW)).toBe(true);
    expect(ledger.consume("nonce-aaaaaaaaaaaaaaaa", NOW + 60_000, NOW)).toBe(false);
  });

  it("refuses a nonce whose token is already past expiry and grace", () => {
    const ledger = new NonceLedger({ graceMs: 1_000 });
    expect(ledger.consume("late", NOW, NOW + 1_000)).toBe(false);
    expect(ledger.consume("just-in-time", NOW, NOW + 999)).toBe(true);
  });

  it("forgets nonces once their tokens can no longer verify, in expiry order whatever the arrival order", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ ttl: fc.integer({ min: 1, max: 120_000 }), arrival: fc.nat(60_000) }), {
          minLength: 1,
          maxLength: 300,
        }),
        fc.nat(200_000),
        (tokens, elapsed) => {
          const ledger = new NonceLedger({ graceMs: 5_000 });
          const sorted = tokens
            .map((token, i) => ({ ...token, nonce: `n${i}`, exp: NOW + token.arrival + token.ttl }))
            .sort((a, b) => a.arrival - b.arrival);
          for (const token of sorted) expect(ledger.consume(token.nonce, token.exp, NOW + token.arrival)).toBe(true);
          const checkAt = NOW + 60_000 + elapsed;
          const live = sorted.filter((token) => token.exp + 5_000 > checkAt);
          // The next call's token sweeps; each still-live nonce is still refused, the rest take no memory.
          expect(ledger.consume("next-call", checkAt + 60_000, checkAt)).toBe(true);
          for (const token of live) expect(ledger.consume(token.nonce, token.exp, checkAt)).toBe(false);
          expect(ledger.size).toBe(live.length + 1);
        },
      ),
    );
  });

  it("stays small under steady traffic", () => {
    const ledger = new NonceLedger();
    let peak = 0;
    // 100 calls a second for ten minutes, 60 s tokens: at most ~65 s of nonces are ever held.
    for (let t = 0; t < 600_000; t += 10) {
      ledger.consume(`n${t}`, NOW + t + 60_000, NOW + t);
      peak = Math.max(peak, ledger.size);
    }
    expect(peak).toBeLessThanOrEqual(6_500);
    expect(peak).toBeGreaterThan(6_000);
  });
});
