import { describe, expect, it } from "vitest";
import { call, countRows, signUp } from "./helpers.ts";

const agentBody = (name: string) => ({ name, config: { systemPrompt: "You take messages." } });

describe("Idempotency-Key", () => {
  it("returns the first response to a retry and creates the agent once", async () => {
    const t = await signUp();
    const headers = { "idempotency-key": "create-agent-1" };
    const first = await call<{ id: string }>("POST", "/v1/agents", { key: t.key, body: agentBody("A"), headers });
    const retry = await call<{ id: string }>("POST", "/v1/agents", { key: t.key, body: agentBody("A"), headers });
    expect(first.status).toBe(201);
    expect(retry.status).toBe(201);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect(await countRows("agents", t.accountId)).toBe(1);
  });

  it("answers 422 when the same key comes with a different body, and writes nothing", async () => {
    const t = await signUp();
    const headers = { "idempotency-key": "k-2" };
    await call("POST", "/v1/agents", { key: t.key, body: agentBody("A"), headers });
    const other = await call<{ type: string }>("POST", "/v1/agents", { key: t.key, body: agentBody("B"), headers });
    expect(other.status).toBe(422);
    expect(other.body.type).toMatch(/idempotency-key-reused$/);
    expect(await countRows("agents", t.accountId)).toBe(1);
  });

  it("keeps keys per account: another account's same key is a new request", async () => {
    const a = await signUp();
    const b = await signUp();
    const headers = { "idempotency-key": "shared-key" };
    const ra = await call<{ id: string }>("POST", "/v1/agents", { key: a.key, body: agentBody("A"), headers });
    const rb = await call<{ id: string }>("POST", "/v1/agents", { key: b.key, body: agentBody("A"), headers });
    expect(rb.status).toBe(201);
    expect(rb.body.id).not.toBe(ra.body.id);
    expect(rb.headers.get("idempotent-replayed")).toBeNull();
  });

  it("does not store a failed request, so the key can be retried with a fixed body", async () => {
    const t = await signUp();
    const headers = { "idempotency-key": "fix-and-retry" };
    const bad = await call("POST", "/v1/agents", { key: t.key, body: { name: "A" }, headers });
    expect(bad.status).toBe(400);
    const good = await call("POST", "/v1/agents", { key: t.key, body: agentBody("A"), headers });
    expect(good.status).toBe(201);
    expect(good.headers.get("idempotent-replayed")).toBeNull();
  });

  it("lets concurrent retries create one agent, all getting the same answer", async () => {
    const t = await signUp();
    const headers = { "idempotency-key": "race" };
    const replies = await Promise.all(
      [1, 2, 3].map(() => call<{ id: string }>("POST", "/v1/agents", { key: t.key, body: agentBody("R"), headers })),
    );
    expect(replies.map((r) => r.status)).toEqual([201, 201, 201]);
    expect(new Set(replies.map((r) => r.body.id)).size).toBe(1);
    expect(await countRows("agents", t.accountId)).toBe(1);
  });

  it("rejects a malformed key", async () => {
    const t = await signUp();
    const r = await call("POST", "/v1/agents", {
      key: t.key,
      body: agentBody("A"),
      headers: { "idempotency-key": "x".repeat(300) },
    });
    expect(r.status).toBe(400);
    expect(await countRows("agents", t.accountId)).toBe(0);
  });
});
