import { describe, expect, it } from "vitest";
import { auditActions, call, signUp } from "./helpers.ts";

type Consent = { id: string; status: string; revokedAt: string | null; optedInAt: string; ipAddress: string | null };

describe("consent", () => {
  it("records consent with its evidence, lists it by number, and revokes it without deleting it", async () => {
    const t = await signUp();
    const made = await call<Consent>("POST", "/v1/consent", {
      key: t.key,
      body: {
        phoneNumber: "+14155550123",
        type: "marketing",
        verificationMethod: "checkbox",
        optedInAt: "2026-01-02T03:04:05.000Z",
        ipAddress: "203.0.113.7",
        userAgent: "Mozilla/5.0",
      },
    });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({
      status: "active",
      optedInAt: "2026-01-02T03:04:05.000Z",
      ipAddress: "203.0.113.7",
    });
    await call("POST", "/v1/consent", {
      key: t.key,
      body: { phoneNumber: "+14155550999", type: "service", verificationMethod: "voice" },
    });

    const byNumber = await call<{ data: Consent[] }>("GET", "/v1/consent?phoneNumber=%2B14155550123", { key: t.key });
    expect(byNumber.body.data.map((c) => c.id)).toEqual([made.body.id]);

    const revoked = await call<Consent>("POST", `/v1/consent/${made.body.id}/revoke`, { key: t.key });
    expect(revoked.body.status).toBe("revoked");
    expect(revoked.body.revokedAt).not.toBeNull();
    const again = await call<Consent>("POST", `/v1/consent/${made.body.id}/revoke`, { key: t.key });
    expect(again.body.revokedAt).toBe(revoked.body.revokedAt);

    const stillThere = await call<Consent>("GET", `/v1/consent/${made.body.id}`, { key: t.key });
    expect(stillThere.body.status).toBe("revoked");
    const active = await call<{ data: Consent[] }>("GET", "/v1/consent?status=active", { key: t.key });
    expect(active.body.data.map((c) => c.id)).not.toContain(made.body.id);
    expect((await auditActions(t.accountId)).filter((a) => a.startsWith("consent."))).toEqual([
      "consent.create",
      "consent.create",
      "consent.revoke",
    ]);
  });

  it("rejects an expiry before the opt-in and an invalid IP address", async () => {
    const t = await signUp();
    const base = { phoneNumber: "+14155550123", type: "service", verificationMethod: "sms" };
    const expiry = await call<{ errors: Array<{ pointer: string }> }>("POST", "/v1/consent", {
      key: t.key,
      body: { ...base, optedInAt: "2026-02-01T00:00:00Z", expiresAt: "2026-01-01T00:00:00Z" },
    });
    expect(expiry.status).toBe(400);
    expect(expiry.body.errors.map((e) => e.pointer)).toEqual(["/expiresAt"]);
    const ip = await call("POST", "/v1/consent", { key: t.key, body: { ...base, ipAddress: "999.1.1.1" } });
    expect(ip.status).toBe(400);
  });
});
