import { describe, expect, it } from "vitest";
import { call, signUp, tenantFingerprint } from "./helpers.ts";

describe("authentication", () => {
  it("answers 401 problem+json with a Bearer challenge when no key is sent", async () => {
    const r = await call<{ type: string; status: number }>("GET", "/v1/agents");
    expect(r.status).toBe(401);
    expect(r.headers.get("content-type")).toBe("application/problem+json");
    expect(r.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(r.body.type).toMatch(/\/unauthorized$/);
  });

  it("rejects a well-formed key that was never issued", async () => {
    const t = await signUp();
    const forged = t.key.replace(/.{8}$/, "00000000");
    expect((await call("GET", "/v1/agents", { key: forged })).status).toBe(401);
  });

  it("rejects a key whose account ID has a wrong check character", async () => {
    const t = await signUp();
    // Change the account ID's last (check) character to another symbol of the alphabet.
    const last = t.accountId.at(-1);
    const wrong = `${t.accountId.slice(0, -1)}${last === "2" ? "3" : "2"}`;
    const r = await call("GET", "/v1/agents", { key: t.key.replace(t.accountId, wrong) });
    expect(r.status).toBe(401);
  });

  it("rejects garbage and other schemes", async () => {
    const t = await signUp();
    expect((await call("GET", "/v1/agents", { headers: { authorization: "Bearer nope" } })).status).toBe(401);
    expect((await call("GET", "/v1/agents", { headers: { authorization: `Basic ${t.key}` } })).status).toBe(401);
  });

  it("stops accepting a key once it is revoked, and other keys keep working", async () => {
    const t = await signUp();
    const made = await call<{ id: string; key: string }>("POST", "/v1/api-keys", {
      key: t.key,
      body: { name: "temp", scopes: ["agents:read"] },
    });
    expect((await call("GET", "/v1/agents", { key: made.body.key })).status).toBe(200);
    const revoked = await call<{ revokedAt: string | null }>("POST", `/v1/api-keys/${made.body.id}/revoke`, {
      key: t.key,
    });
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).not.toBeNull();
    const after = await call<{ detail: string }>("GET", "/v1/agents", { key: made.body.key });
    expect(after.status).toBe(401);
    expect(after.body.detail).toMatch(/revoked/);
    expect((await call("GET", "/v1/agents", { key: t.key })).status).toBe(200);
  });

  it("writes nothing when a write comes with a revoked or unknown key", async () => {
    const t = await signUp();
    const made = await call<{ id: string; key: string }>("POST", "/v1/api-keys", {
      key: t.key,
      body: { name: "writer", scopes: ["agents:write"] },
    });
    await call("POST", `/v1/api-keys/${made.body.id}/revoke`, { key: t.key });
    const before = await tenantFingerprint(t.accountId);
    const agent = { name: "Front desk", config: { systemPrompt: "You answer the phone." } };
    for (const key of [made.body.key, t.key.replace(/.{8}$/, "00000000")]) {
      const r = await call("POST", "/v1/agents", { key, body: agent, headers: { "idempotency-key": "k-1" } });
      expect(r.status).toBe(401);
    }
    expect(await tenantFingerprint(t.accountId)).toBe(before);
    // The same request with a live key is accepted, so the refusals above were about the key alone.
    expect((await call("POST", "/v1/agents", { key: t.key, body: agent })).status).toBe(201);
  });

  it("records when a key was last used", async () => {
    const t = await signUp();
    await call("GET", "/v1/agents", { key: t.key });
    const r = await call<{ lastUsedAt: string | null }>("GET", `/v1/api-keys/${t.keyId}`, { key: t.key });
    expect(r.body.lastUsedAt).not.toBeNull();
  });
});
