import { describe, expect, it } from "vitest";
import { isAccountId, isUserId } from "../../shared/ids.ts";
import { auditActions, call } from "./helpers.ts";

describe("sign-up", () => {
  it("creates an account, its owner and a working all-scope key, and audits all three", async () => {
    const r = await call<{
      account: { id: string; jurisdiction: string; name: string };
      user: { id: string; role: string };
      apiKey: { id: string; key: string; prefix: string; scopes: string[] };
    }>("POST", "/v1/accounts", { body: { name: "Acme Dental", email: "ops@acme.example", jurisdiction: "eu" } });
    expect(r.status).toBe(201);
    expect(isAccountId(r.body.account.id)).toBe(true);
    expect(isUserId(r.body.user.id)).toBe(true);
    expect(r.body.account).toMatchObject({ name: "Acme Dental", jurisdiction: "eu" });
    expect(r.body.user.role).toBe("owner");
    expect(r.body.apiKey.scopes).toEqual(["*"]);
    expect(r.body.apiKey.key.startsWith(r.body.apiKey.prefix)).toBe(true);

    const me = await call<{ id: string }>("GET", `/v1/accounts/${r.body.account.id}`, { key: r.body.apiKey.key });
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(r.body.account.id);

    // The secret is never shown again: listing keys shows only the prefix.
    const keys = await call<{ data: Array<Record<string, unknown>> }>("GET", "/v1/api-keys", {
      key: r.body.apiKey.key,
    });
    expect(keys.body.data).toHaveLength(1);
    expect(JSON.stringify(keys.body)).not.toContain(r.body.apiKey.key);

    expect((await auditActions(r.body.account.id)).sort()).toEqual(["account.create", "api_key.create", "user.create"]);
  });

  it("defaults the jurisdiction to us and rejects one it does not know", async () => {
    const ok = await call<{ account: { jurisdiction: string } }>("POST", "/v1/accounts", {
      body: { name: "Default", email: "d@example.com" },
    });
    expect(ok.body.account.jurisdiction).toBe("us");
    const bad = await call<{ errors: Array<{ pointer: string }> }>("POST", "/v1/accounts", {
      body: { name: "Mars", email: "m@example.com", jurisdiction: "mars" },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e) => e.pointer)).toEqual(["/jurisdiction"]);
  });
});
