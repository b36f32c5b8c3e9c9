// POST /v1/web-calls: the same admission as a phone call (a lease, a region inside residency, a call record) and a
// call token bound to the new call for the media node's /v1/web socket. Publishable keys start calls only with
// their agent and only from their origins; another tenant's agent is a 404 and starts nothing.
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { importCallTokenVerifier } from "../../../shared/call-token.ts";
import { calls } from "../../../workers/src/db/schema.ts";
import { locateSession } from "../../../workers/src/do/call-ledger/locate.ts";
import { call, createAgent, signUp, withDb } from "../helpers.ts";
import { edge, heartbeat, testBindings } from "./fixtures.ts";

const verifier = () =>
  importCallTokenVerifier({ [testBindings.CALL_TOKEN_KID ?? ""]: testBindings.TEST_CALL_TOKEN_PUBLIC_KEY ?? "" });

type WebCall = { callId: string; url: string; token: string; region: string; agentVersion: number };

describe("web calls", () => {
  beforeAll(async () => {
    expect((await heartbeat("us-east-1", { nodeId: "node-test-1" })).status).toBe(200);
  });

  it("admits a browser call: node URL, a token bound to the call, a ledger holding the lease, a listed call", async () => {
    const t = await signUp("Web Co");
    const agent = await createAgent(t, { publish: true });
    const r = await call<WebCall>("POST", "/v1/web-calls", { key: t.key, body: { agentId: agent.id } });
    expect(r.status).toBe(201);
    expect(r.body.url).toBe("wss://node-test-1.us-east-1.media.test/v1/web");
    expect(r.body.region).toBe("us-east-1");
    const verified = await (await verifier()).verify(r.body.token, { expectedCallId: r.body.callId });
    expect(verified.ok).toBe(true);
    if (verified.ok)
      expect(verified.claims).toMatchObject({ tenantId: t.accountId, agentId: agent.id, agentVersion: 1 });

    const session = await locateSession(edge, r.body.callId);
    const snapshot = await session?.snapshot();
    expect(snapshot).toMatchObject({
      state: "routed",
      leaseHeld: true,
      record: { direction: "web", region: "us-east-1" },
    });

    // The ledger's outbox writes the call record to Postgres: it is listed like any call.
    const deadline = Date.now() + 10_000;
    let rows: (typeof calls.$inferSelect)[] = [];
    while (Date.now() < deadline && rows.length === 0) {
      rows = await withDb((db) => db.select().from(calls).where(eq(calls.id, r.body.callId)));
      if (rows.length === 0) await new Promise((res) => setTimeout(res, 200));
    }
    expect(rows[0]).toMatchObject({ direction: "web", fromNumber: "web", tenantId: t.accountId });
    const listed = await call<{ data: { id: string; direction: string }[] }>("GET", "/v1/calls?direction=web", {
      key: t.key,
    });
    expect(listed.body.data.map((c) => c.id)).toContain(r.body.callId);
  });

  it("calls a draft version when asked, and refuses an unpublished agent without one", async () => {
    const t = await signUp("Draft Co");
    const agent = await createAgent(t);
    const none = await call("POST", "/v1/web-calls", { key: t.key, body: { agentId: agent.id } });
    expect(none.status).toBe(409);
    const draft = await call<WebCall>("POST", "/v1/web-calls", { key: t.key, body: { agentId: agent.id, version: 1 } });
    expect(draft.status).toBe(201);
    expect(draft.body.agentVersion).toBe(1);
  });

  it("treats another tenant's agent as not found and starts nothing", async () => {
    const a = await signUp("A");
    const b = await signUp("B");
    const agent = await createAgent(a, { publish: true });
    const r = await call("POST", "/v1/web-calls", { key: b.key, body: { agentId: agent.id } });
    expect(r.status).toBe(404);
    const rows = await withDb((db) => db.select().from(calls).where(eq(calls.tenantId, b.accountId)));
    expect(rows).toHaveLength(0);
  });

  it("accepts a publishable key only from its origins and only for its agent", async () => {
    const t = await signUp("Shop");
    const agent = await createAgent(t, { publish: true });
    const other = await createAgent(t, { publish: true });
    const pk = await call<{ key: string; id: string }>("POST", "/v1/publishable-keys", {
      key: t.key,
      body: { agentId: agent.id, allowedOrigins: ["https://shop.example"] },
    });
    expect(pk.status).toBe(201);
    expect(pk.body.key).toMatch(/^pk_AYB-/);
    const from = (origin: string, agentId: string) =>
      call<WebCall>("POST", "/v1/web-calls", { key: pk.body.key, body: { agentId }, headers: { origin } });

    const ok = await from("https://shop.example", agent.id);
    expect(ok.status).toBe(201);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://shop.example");
    expect((await from("https://evil.example", agent.id)).status).toBe(403);
    expect((await from("https://shop.example", other.id)).status).toBe(404);
    // It is not an API key: nothing else accepts it.
    expect((await call("GET", "/v1/agents", { key: pk.body.key })).status).toBe(401);

    expect((await call("POST", `/v1/publishable-keys/${pk.body.id}/revoke`, { key: t.key })).status).toBe(200);
    expect((await from("https://shop.example", agent.id)).status).toBe(401);
  });
});
