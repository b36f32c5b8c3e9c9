import { describe, expect, it } from "vitest";
import { signNodeRequest, verifyNodeRequest } from "../../../shared/media-node-auth.ts";

const secrets = { "node-a": "secret-a", "node-b": "secret-b" };
const now = 1_700_000_000_000;

async function signed(over: { nodeId?: string; secret?: string; body?: string; url?: string; now?: number } = {}) {
  const headers = await signNodeRequest({
    nodeId: over.nodeId ?? "node-a",
    secret: over.secret ?? "secret-a",
    method: "POST",
    url: over.url ?? "https://edge.example.com/v1/media-nodes/heartbeat",
    body: over.body ?? '{"load":1}',
    now: over.now ?? now,
  });
  return new Headers(headers);
}

const check = (headers: Headers, over: { url?: string; body?: string; method?: string } = {}) =>
  verifyNodeRequest({
    secrets,
    headers,
    method: over.method ?? "POST",
    url: over.url ?? "http://127.0.0.1:8787/v1/media-nodes/heartbeat",
    body: over.body ?? '{"load":1}',
    now,
  });

describe("media node request signatures", () => {
  it("verify for the node that signed, whatever host the request arrived at", async () => {
    expect(await check(await signed())).toEqual({ ok: true, nodeId: "node-a" });
  });

  it("fail for another node's secret, an unknown node, a changed body, path or method", async () => {
    expect(await check(await signed({ secret: "secret-b" }))).toMatchObject({ ok: false, reason: "bad-signature" });
    expect(await check(await signed({ nodeId: "node-z", secret: "x" }))).toMatchObject({
      ok: false,
      reason: "unknown-node",
    });
    expect(await check(await signed(), { body: '{"load":0}' })).toMatchObject({ ok: false, reason: "bad-signature" });
    expect(await check(await signed(), { url: "http://x/v1/calls/call_1/events" })).toMatchObject({
      reason: "bad-signature",
    });
    expect(await check(await signed(), { method: "PUT" })).toMatchObject({ reason: "bad-signature" });
  });

  it("fail outside the clock-skew window and without headers", async () => {
    expect(await check(await signed({ now: now - 301_000 }))).toMatchObject({ ok: false, reason: "stale" });
    expect(await check(new Headers())).toMatchObject({ ok: false, reason: "missing" });
  });

  it("do not treat inherited object keys as node ids", async () => {
    expect(await check(await signed({ nodeId: "constructor", secret: "x" }))).toMatchObject({ reason: "unknown-node" });
  });
});
