import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ToolRunner } from "../../../../media-nodes/src/tools/runner.ts";
import { signPayload, verifySignature } from "../../../../media-nodes/src/tools/signing.ts";
import { fixedToolSigningKeys } from "../../../../media-nodes/src/tools/signing-keys.ts";
import { json, orderSchema, startWebhookServer } from "./webhook-server.ts";

const SECRET = "whsec_test_signing";
let server: Awaited<ReturnType<typeof startWebhookServer>>;

beforeAll(async () => {
  server = await startWebhookServer(SECRET, (_call, res) => json(res, 200, { status: "shipped", eta: "Friday" }));
});
afterAll(() => server.close());

describe("webhook signing", () => {
  it("sends a body the tenant can verify with its secret, with the call it belongs to", async () => {
    const runner = new ToolRunner({
      signing: fixedToolSigningKeys(SECRET),
      tools: [
        {
          name: "lookup_order",
          description: "d",
          inputSchema: orderSchema,
          webhook: { url: server.url, timeoutMs: 2_000 },
        },
      ],
    });
    const { outcomes } = await runner.run([{ id: "tu_1", name: "lookup_order", input: { orderNumber: "48213" } }], {
      callId: "CA123",
      tenantId: "ten_9",
      history: [],
    });
    expect(outcomes[0]).toMatchObject({ ok: true, result: { status: "shipped", eta: "Friday" } });
    const received = server.received.at(-1)!;
    expect(received.signatureValid).toBe(true);
    expect(received.headers["content-type"]).toBe("application/json");
    expect(received.headers["x-aybiza-signature"]).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(received.json).toEqual({
      tool: "lookup_order",
      toolCallId: "tu_1",
      arguments: { orderNumber: "48213" },
      call: { callId: "CA123", tenantId: "ten_9" },
    });
  });

  it("rejects a tampered body, a wrong secret and a replayed old request", () => {
    const now = 1_700_000_000_000;
    const ts = Math.floor(now / 1000);
    const body = '{"tool":"lookup_order"}';
    const sig = signPayload(SECRET, ts, body);
    const headers = { timestamp: String(ts), signature: sig };
    expect(verifySignature(SECRET, headers, body, { nowMs: now })).toEqual({ ok: true });
    expect(verifySignature(SECRET, headers, body.replace("lookup", "cancel"), { nowMs: now }).ok).toBe(false);
    expect(verifySignature("other-secret", headers, body, { nowMs: now }).ok).toBe(false);
    expect(verifySignature(SECRET, headers, body, { nowMs: now + 10 * 60_000 })).toEqual({
      ok: false,
      reason: "timestamp outside tolerance",
    });
    // During a rotation the header may carry two signatures; either verifies.
    const rotated = { timestamp: String(ts), signature: `${signPayload("old", ts, body)}, ${sig}` };
    expect(verifySignature(SECRET, rotated, body, { nowMs: now }).ok).toBe(true);
  });

  it("signs with the runner's clock", async () => {
    const fixed = Date.now() - 1_000;
    const runner = new ToolRunner({
      signing: fixedToolSigningKeys(SECRET),
      now: () => fixed,
      tools: [
        {
          name: "lookup_order",
          description: "d",
          inputSchema: orderSchema,
          webhook: { url: server.url, timeoutMs: 2_000 },
        },
      ],
    });
    await runner.run([{ id: "x", name: "lookup_order", input: { orderNumber: "1234" } }], {
      callId: "c",
      tenantId: "t",
      history: [],
    });
    expect(server.received.at(-1)!.headers["x-aybiza-timestamp"]).toBe(String(Math.floor(fixed / 1000)));
  });
});
