import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ToolRunner } from "../../../../media-nodes/src/tools/runner.ts";
import { fixedToolSigningKeys } from "../../../../media-nodes/src/tools/signing-keys.ts";
import { json, orderSchema, startWebhookServer } from "./webhook-server.ts";

const SECRET = "whsec_test_concurrency";
let server: Awaited<ReturnType<typeof startWebhookServer>>;

beforeAll(async () => {
  server = await startWebhookServer(SECRET, (call, res) => {
    setTimeout(() => json(res, 200, { path: call.path, ok: true }), 300);
  });
});
afterAll(() => server.close());

describe("ToolRunner concurrency", () => {
  it("runs a turn's webhook calls at the same time, not one after another", async () => {
    const runner = new ToolRunner({
      signing: fixedToolSigningKeys(SECRET),
      tools: [
        {
          name: "lookup_order",
          description: "d",
          inputSchema: orderSchema,
          webhook: { url: `${server.url}/order`, timeoutMs: 5_000 },
        },
        {
          name: "get_business_hours",
          description: "d",
          inputSchema: { type: "object", properties: {}, additionalProperties: false },
          webhook: { url: `${server.url}/hours`, timeoutMs: 5_000 },
        },
      ],
    });
    // Warm the HTTP client (first use loads and connects), so the measurement below is of the turn.
    await runner.run([{ id: "w", name: "get_business_hours", input: {} }], {
      callId: "CA0",
      tenantId: "ten_1",
      history: [],
    });
    server.received.length = 0;

    const started = Date.now();
    const { outcomes } = await runner.run(
      [
        { id: "t1", name: "lookup_order", input: { orderNumber: "48213" } },
        { id: "t2", name: "get_business_hours", input: {} },
      ],
      { callId: "CA1", tenantId: "ten_1", history: [] },
    );
    const elapsed = Date.now() - started;

    expect(outcomes.map((o) => [o.id, o.ok])).toEqual([
      ["t1", true],
      ["t2", true],
    ]);
    expect(outcomes[0]!.result).toEqual({ path: "/order", ok: true });
    expect(outcomes[1]!.result).toEqual({ path: "/hours", ok: true });
    // One after the other would take at least 600 ms.
    expect(elapsed).toBeLessThan(600);
    // Both requests were in flight together: the second arrived before the first was answered.
    const [a, b] = server.received;
    expect(Math.abs(a!.receivedAt - b!.receivedAt)).toBeLessThan(300);
  });
});
