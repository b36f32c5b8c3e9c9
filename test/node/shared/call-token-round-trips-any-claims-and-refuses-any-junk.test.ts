// Properties over the call token's parser, kept in the suite (single-character tampering is covered in
// call-token-admits-each-call-once.test.ts): any subject the schema allows signs and verifies back to exactly
// itself, and any string at all, token-shaped or not, is refused with a reason rather than a throw.
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type CallTokenSigner,
  type CallTokenSubject,
  type CallTokenVerifier,
  generateCallTokenKeyPair,
  importCallTokenSigner,
  importCallTokenVerifier,
} from "../../../shared/call-token.ts";

const NOW = 1_764_000_000_000;
const REASONS = ["malformed", "unknown-key", "bad-signature", "expired", "not-yet-valid", "call-mismatch"];

let signer: CallTokenSigner;
let verifier: CallTokenVerifier;
let kid: string;

beforeAll(async () => {
  const pair = await generateCallTokenKeyPair();
  kid = pair.kid;
  signer = await importCallTokenSigner(pair.privateKey, pair.kid);
  verifier = await importCallTokenVerifier({ [pair.kid]: pair.publicKey });
});

const subject: fc.Arbitrary<CallTokenSubject> = fc.record(
  {
    callId: fc.string({ minLength: 1, maxLength: 128 }),
    tenantId: fc.string({ minLength: 1, maxLength: 128 }),
    agentId: fc.string({ minLength: 1, maxLength: 128 }),
    agentVersion: fc.nat(),
    prefixHash: fc.stringMatching(/^[0-9a-f]{64}$/),
    region: fc.string({ minLength: 1, maxLength: 64 }),
    carrierCallId: fc.string({ minLength: 1, maxLength: 256 }),
  },
  { requiredKeys: ["callId", "tenantId", "agentId", "agentVersion", "prefixHash", "region"] },
);

describe("the call token", () => {
  it("verifies back to exactly the claims it was signed with, for any subject", async () => {
    await fc.assert(
      fc.asyncProperty(subject, fc.integer({ min: 1_000, max: 600_000 }), async (claims, ttlMs) => {
        const token = await signer.sign(claims, { now: NOW, ttlMs });
        const checked = await verifier.verify(token, { now: NOW, expectedCallId: claims.callId });
        if (!checked.ok) throw new Error(`refused its own token: ${checked.reason}`);
        expect(checked.claims).toMatchObject({ ...claims, iat: NOW, exp: NOW + ttlMs });
      }),
      { numRuns: 60 },
    );
  });

  it("refuses any string with a reason, never a throw", async () => {
    const tokenShaped = fc
      .tuple(
        fc.constantFrom("v1", "v2", ""),
        fc.oneof(fc.constant("KID"), fc.string({ maxLength: 70 })),
        fc.base64String({ maxLength: 400 }),
        fc.base64String({ maxLength: 120 }),
      )
      .map(([version, k, payload, signature]) =>
        [version, k === "KID" ? kid : k, payload.replaceAll("=", ""), signature.replaceAll("=", "")].join("."),
      );
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 5000 }), tokenShaped), async (junk) => {
        const checked = await verifier.verify(junk, { now: NOW });
        expect(checked.ok).toBe(false);
        if (!checked.ok) expect(REASONS).toContain(checked.reason);
      }),
      { numRuns: 200 },
    );
  });
});
