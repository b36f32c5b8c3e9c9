import { describe, expect, it } from "vitest";
import { call, countRows, createAgent, keyWith, signUp } from "./helpers.ts";

describe("scopes", () => {
  it("answers 403 for a key that lacks the route's scope, and writes nothing", async () => {
    const t = await signUp();
    const reader = await keyWith(t, ["agents:read"]);
    const before = await countRows("agents", t.accountId);
    const r = await call<{ type: string; detail: string }>("POST", "/v1/agents", {
      key: reader,
      body: { name: "x", config: { systemPrompt: "y" } },
    });
    expect(r.status).toBe(403);
    expect(r.headers.get("content-type")).toBe("application/problem+json");
    expect(r.body.type).toMatch(/\/insufficient-scope$/);
    expect(r.body.detail).toContain("agents:write");
    expect(await countRows("agents", t.accountId)).toBe(before);
    expect((await call("GET", "/v1/agents", { key: reader })).status).toBe(200);
  });

  it("checks each route's own scope", async () => {
    const t = await signUp();
    const agent = await createAgent(t);
    const numbersOnly = await keyWith(t, ["numbers:read"]);
    expect((await call("GET", "/v1/phone-numbers", { key: numbersOnly })).status).toBe(200);
    expect((await call("GET", `/v1/agents/${agent.id}`, { key: numbersOnly })).status).toBe(403);
    expect((await call("GET", "/v1/calls", { key: numbersOnly })).status).toBe(403);
    expect((await call("GET", "/v1/consent", { key: numbersOnly })).status).toBe(403);
    expect((await call("GET", "/v1/api-keys", { key: numbersOnly })).status).toBe(403);
  });

  it("does not let a key mint a key more powerful than itself", async () => {
    const t = await signUp();
    const admin = await keyWith(t, ["keys:admin", "agents:read"]);
    const escalate = await call("POST", "/v1/api-keys", { key: admin, body: { name: "x", scopes: ["agents:write"] } });
    expect(escalate.status).toBe(403);
    const star = await call("POST", "/v1/api-keys", { key: admin, body: { name: "x", scopes: ["*"] } });
    expect(star.status).toBe(403);
    const subset = await call("POST", "/v1/api-keys", { key: admin, body: { name: "x", scopes: ["agents:read"] } });
    expect(subset.status).toBe(201);
  });
});
