import { describe, expect, it } from "vitest";
import { call } from "./helpers.ts";

type Operation = { security?: Array<Record<string, string[]>>; responses: Record<string, unknown> };
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>> };

describe("API description", () => {
  it("serves an OpenAPI 3.1 document where every operation but sign-up and sign-in names its scope", async () => {
    const r = await call<Doc>("GET", "/v1/openapi.json");
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe("3.1.0");
    const ops = Object.entries(r.body.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, op })),
    );
    for (const path of [
      "/v1/accounts",
      "/v1/api-keys",
      "/v1/agents",
      "/v1/phone-numbers",
      "/v1/calls",
      "/v1/consent",
    ]) {
      expect(Object.keys(r.body.paths)).toContain(path);
    }
    const unsecured = ops.filter(({ op }) => !op.security).map(({ key }) => key);
    // Sign-up and console sign-in are how a caller gets credentials in the first place.
    expect(unsecured).toEqual(["POST /v1/accounts", "POST /v1/sessions"]);
    for (const { key, op } of ops) {
      const errors = Object.keys(op.responses).filter((s) => s.startsWith("4"));
      expect.soft(errors.length, `${key} documents its errors`).toBeGreaterThan(0);
    }
  });

  it("serves a self-contained HTML reference listing every operation", async () => {
    const doc = (await call<Doc>("GET", "/v1/openapi.json")).body;
    const r = await call<string>("GET", "/v1/docs");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^text\/html/);
    for (const path of Object.keys(doc.paths)) expect.soft(r.body).toContain(`<code>${path}</code>`);
    expect(r.body).toContain("idempotency-key-reused");
    // No internet: nothing may be loaded from elsewhere.
    expect(r.body).not.toMatch(/<script|<link|src=/i);
  });

  it("documents every event we send in the document's webhooks section, and the page shows them", async () => {
    const doc = (
      await call<Doc & { webhooks?: Record<string, { post?: { requestBody?: unknown } }> }>("GET", "/v1/openapi.json")
    ).body;
    const events = [
      "call.started",
      "call.ended",
      "call.analyzed",
      "transfer.started",
      "transfer.ended",
      "consent.revoked",
    ];
    expect(Object.keys(doc.webhooks ?? {}).sort()).toEqual([...events].sort());
    for (const event of events) expect.soft(doc.webhooks?.[event]?.post?.requestBody, event).toBeDefined();
    const page = (await call<string>("GET", "/v1/docs")).body;
    for (const event of events) expect.soft(page).toContain(`<code>${event}</code>`);
  });
});
