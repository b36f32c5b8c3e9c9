import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, createAgent, signUp, tenantFingerprint } from "./helpers.ts";

type ProblemBody = {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  errors?: Array<{ location: string; pointer: string; detail: string }>;
};

describe("bad input", () => {
  it("answers each kind of bad request with a problem+json 4xx and changes nothing", async () => {
    const t = await signUp();
    const agent = await createAgent(t);
    const before = await tenantFingerprint(t.accountId);
    const cases: Array<{
      name: string;
      status: number;
      type: string;
      send: () => Promise<{ status: number; headers: Headers; body: unknown }>;
    }> = [
      {
        name: "malformed JSON",
        status: 400,
        type: "malformed-json",
        send: () => call("POST", "/v1/agents", { key: t.key, body: '{"name": "x",' }),
      },
      {
        name: "wrong types",
        status: 400,
        type: "validation-error",
        send: () => call("POST", "/v1/agents", { key: t.key, body: { name: 42, config: { systemPrompt: ["no"] } } }),
      },
      {
        name: "unknown fields",
        status: 400,
        type: "validation-error",
        send: () =>
          call("POST", "/v1/consent", {
            key: t.key,
            body: { phoneNumber: "+14155550123", type: "service", verificationMethod: "sms", admin: true },
          }),
      },
      {
        name: "a body that is not JSON at all",
        status: 415,
        type: "unsupported-media-type",
        send: () =>
          call("POST", "/v1/agents", { key: t.key, body: "name=x", headers: { "content-type": "text/plain" } }),
      },
      {
        name: "an account ID with a wrong check character",
        status: 400,
        type: "validation-error",
        send: () =>
          call("GET", `/v1/accounts/${t.accountId.slice(0, -1)}${t.accountId.endsWith("2") ? "3" : "2"}`, {
            key: t.key,
          }),
      },
      {
        name: "a resource ID of the wrong kind",
        status: 400,
        type: "validation-error",
        send: () => call("PATCH", `/v1/agents/num_22222222222222222222`, { key: t.key, body: { name: "x" } }),
      },
      {
        name: "a path that is not a route",
        status: 404,
        type: "not-found",
        send: () => call("POST", "/v1/agents/x/y/z", { key: t.key, body: {} }),
      },
      {
        name: "an empty body labelled as JSON",
        status: 400,
        type: "malformed-json",
        send: () =>
          call("PATCH", `/v1/agents/${agent.id}`, { key: t.key, headers: { "content-type": "application/json" } }),
      },
      {
        name: "no body where one is required",
        status: 400,
        type: "validation-error",
        send: () => call("POST", `/v1/agents/${agent.id}/publish`, { key: t.key }),
      },
      {
        name: "JSON that is not an object",
        status: 400,
        type: "validation-error",
        send: () => call("POST", "/v1/consent", { key: t.key, body: "[1,2]" }),
      },
    ];
    for (const c of cases) {
      const r = await c.send();
      expect.soft(r.status, c.name).toBe(c.status);
      expect.soft(r.headers.get("content-type"), c.name).toBe("application/problem+json");
      const body = r.body as ProblemBody;
      expect.soft(body.type, c.name).toBe(`https://aybiza.dev/problems/${c.type}`);
      expect.soft(body.status, c.name).toBe(c.status);
      expect.soft(typeof body.title === "string" && typeof body.detail === "string", c.name).toBe(true);
      expect.soft(body.instance, c.name).toMatch(/^\/v1\//);
    }
    expect(await tenantFingerprint(t.accountId)).toBe(before);
  });

  it("lists every bad field with a JSON pointer", async () => {
    const t = await signUp();
    const r = await call<ProblemBody>("POST", "/v1/agents", {
      key: t.key,
      body: { name: "", config: { systemPrompt: "ok", tools: [{ name: "1bad" }] }, extra: 1, more: 2 },
    });
    expect(r.status).toBe(400);
    const pointers = (r.body.errors ?? []).map((e) => e.pointer).sort();
    expect(pointers).toEqual(expect.arrayContaining(["/extra", "/more", "/name"]));
    expect(pointers.some((p) => p.startsWith("/config/tools/0"))).toBe(true);
  });

  it("rejects bodies over 256 KB with 413, with or without a Content-Length", async () => {
    const t = await signUp();
    const before = await tenantFingerprint(t.accountId);
    const big = JSON.stringify({ name: "big", config: { systemPrompt: "x".repeat(300 * 1024) } });
    const sized = await call<ProblemBody>("POST", "/v1/agents", { key: t.key, body: big });
    expect(sized.status).toBe(413);
    expect(sized.body.type).toMatch(/payload-too-large$/);

    const bytes = new TextEncoder().encode(big);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 16 * 1024) controller.enqueue(bytes.slice(i, i + 16 * 1024));
        controller.close();
      },
    });
    const chunked = await exports.default.fetch("http://edge.test/v1/agents", {
      method: "POST",
      headers: { authorization: `Bearer ${t.key}`, "content-type": "application/json" },
      body: stream,
    });
    expect(chunked.status).toBe(413);
    expect(chunked.headers.get("content-type")).toBe("application/problem+json");
    expect(await tenantFingerprint(t.accountId)).toBe(before);

    // A large body under the limit goes through, and the fingerprint sees that write.
    const fits = JSON.stringify({ name: "fits", config: { systemPrompt: "x".repeat(90_000) } });
    expect((await call("POST", "/v1/agents", { key: t.key, body: fits })).status).toBe(201);
    expect(await tenantFingerprint(t.accountId)).not.toBe(before);
  });
});
