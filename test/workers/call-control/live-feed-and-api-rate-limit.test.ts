import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { PLANS } from "../../../workers/src/do/tenant-limiter/plans.ts";
import { call, signUp } from "../helpers.ts";
import { callRecord, EDGE, edge } from "./fixtures.ts";

describe("live call feed", () => {
  it("streams a tenant's own call over a WebSocket and hides other tenants' calls", async () => {
    const owner = await signUp("Live owner");
    const other = await signUp("Live other");
    const record = callRecord(owner.accountId);
    await edge.CALL_LEDGER.getByName(record.callId).open({ record, state: "routed", leaseHeld: false });
    const url = `${EDGE}/v1/calls/${record.callId}/live`;
    const open = await exports.default.fetch(url, {
      headers: { upgrade: "websocket", authorization: `Bearer ${owner.key}` },
    });
    expect(open.status).toBe(101);
    const socket = open.webSocket;
    if (!socket) throw new Error("no socket");
    const first = new Promise<string>((resolve) =>
      socket.addEventListener("message", (e) => resolve(String(e.data)), { once: true }),
    );
    socket.accept();
    expect(JSON.parse(await first)).toMatchObject({ type: "snapshot", snapshot: { state: "routed" } });
    socket.close();

    const foreign = await exports.default.fetch(url, {
      headers: { upgrade: "websocket", authorization: `Bearer ${other.key}` },
    });
    expect(foreign.status).toBe(404);
    expect((await exports.default.fetch(url, { headers: { upgrade: "websocket" } })).status).toBe(401);
    expect((await call("GET", `/v1/calls/${record.callId}/live`, { key: owner.key })).status).toBe(426);
  });
});

describe("API request limits", () => {
  it("answer 429 with Retry-After once a tenant spends its plan's burst", async () => {
    const t = await signUp("Chatty");
    const burst = PLANS.free.apiRequests.capacity;
    // The bucket keeps refilling while the loop runs (one token a second), so count until the first refusal.
    // The refusal is the response that ended the loop: a later request could already find a refilled token.
    let granted = 0;
    let limited = await call<{ type?: string }>("GET", "/v1/agents", { key: t.key });
    while (limited.status === 200 && granted < burst * 2) {
      granted++;
      limited = await call<{ type?: string }>("GET", "/v1/agents", { key: t.key });
    }
    expect(granted).toBeGreaterThanOrEqual(burst);
    expect(granted).toBeLessThan(burst * 2);
    expect(limited.status).toBe(429);
    expect(limited.body.type).toMatch(/\/rate-limited$/);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // Another tenant is not affected.
    const calm = await signUp("Calm");
    expect((await call("GET", "/v1/agents", { key: calm.key })).status).toBe(200);
  });
});
