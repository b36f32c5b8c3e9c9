import { describe, expect, it } from "vitest";
import { type ConsentEvidence, judgeConsent, smsIntent } from "../../../workers/src/outbound/consent-check.ts";

const now = Date.parse("2026-03-01T12:00:00Z");
const day = 86_400_000;
const record = (over: Partial<ConsentEvidence>): ConsentEvidence => ({
  id: "cns_1",
  type: "marketing",
  status: "active",
  optedInAt: new Date(now - 10 * day),
  expiresAt: null,
  revokedAt: null,
  createdAt: new Date(now - 10 * day),
  ...over,
});

describe("consent judgement", () => {
  it("allows a call with an active, unexpired consent of the same purpose", () => {
    expect(judgeConsent([record({ expiresAt: new Date(now + day) })], "marketing", now)).toEqual({
      ok: true,
      consentId: "cns_1",
    });
  });

  it("names the missing consent when only another purpose was agreed to", () => {
    expect(judgeConsent([record({ type: "service" })], "marketing", now)).toMatchObject({
      ok: false,
      reason: "consent-missing",
    });
    expect(judgeConsent([], "service", now)).toMatchObject({ ok: false, reason: "consent-missing" });
  });

  it("names a revocation", () => {
    const revoked = record({ status: "revoked", revokedAt: new Date(now - day) });
    expect(judgeConsent([revoked], "marketing", now)).toMatchObject({ ok: false, reason: "consent-revoked" });
  });

  it("names an expiry", () => {
    expect(judgeConsent([record({ expiresAt: new Date(now) })], "marketing", now)).toMatchObject({
      ok: false,
      reason: "consent-expired",
    });
  });

  it("treats an unconfirmed SMS opt-in as no consent", () => {
    expect(judgeConsent([record({ status: "pending", optedInAt: null })], "marketing", now)).toMatchObject({
      ok: false,
      reason: "consent-missing",
    });
  });

  it("honours a fresh opt-in given after an old revocation", () => {
    const old = record({ id: "cns_old", status: "revoked", revokedAt: new Date(now - 5 * day) });
    const fresh = record({ id: "cns_new", createdAt: new Date(now - day) });
    expect(judgeConsent([old, fresh], "marketing", now)).toEqual({ ok: true, consentId: "cns_new" });
  });
});

describe("SMS keywords", () => {
  it("reads opt-in and opt-out words regardless of case and trailing punctuation", () => {
    expect(smsIntent(" yes! ")).toBe("opt-in");
    expect(smsIntent("Y")).toBe("opt-in");
    expect(smsIntent("STOP")).toBe("opt-out");
    expect(smsIntent("unsubscribe.")).toBe("opt-out");
    expect(smsIntent("yes please call me")).toBe("other");
    expect(smsIntent("don't stop")).toBe("other");
  });
});
