import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_RESPONSE_BYTES, ToolRunner } from "../../../../media-nodes/src/tools/runner.ts";
import { fixedToolSigningKeys } from "../../../../media-nodes/src/tools/signing-keys.ts";
import { json, orderSchema, startWebhookServer } from "./webhook-server.ts";

const SECRET = "whsec_failures";
let server: Awaited<ReturnType<typeof startWebhookServer>>;

beforeAll(async () => {
  server = await startWebhookServer(SECRET, (call, res) => {
    if (call.path === "/slow") setTimeout(() => json(res, 200, { late: true }), 3_000);
    else if (call.path === "/broken") json(res, 503, { error: "db down" });
    else if (call.path === "/huge") json(res, 200, { blob: "x".repeat(MAX_RESPONSE_BYTES + 10) });
    else json(res, 200, { fine: true });
  });
});
afterAll(() => server.close());

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function runnerFor(path: string, timeoutMs = 2_000, url?: string) {
  return new ToolRunner({
    signing: fixedToolSigningKeys(SECRET),
    tools: [
      {
        name: "lookup_order",
        description: "d",
        inputSchema: orderSchema,
        webhook: { url: url ?? `${server.url}${path}`, timeoutMs },
      },
    ],
  });
}
const ctx = { callId: "CA1", tenantId: "t1", history: [] };
const call = { id: "tu_1", name: "lookup_order", input: { orderNumber: "48213" } };

describe("tool failures", () => {
  it("a slow tool times out at its own timeout, with something to say", async () => {
    const started = Date.now();
    const { outcomes } = await runnerFor("/slow", 200).run([call], ctx);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(outcomes[0]).toMatchObject({ ok: false, result: { error: "timeout", timeoutMs: 200 } });
    expect(outcomes[0]!.spokenError).toMatch(/longer/);
  });

  it("a 5xx is reported as the tool being down, not as data", async () => {
    const { outcomes } = await runnerFor("/broken").run([call], ctx);
    expect(outcomes[0]).toMatchObject({
      ok: false,
      result: { error: "tool_unavailable", status: 503, body: { error: "db down" } },
    });
    expect(outcomes[0]!.spokenError).toBeTruthy();
  });

  it("invalid arguments never reach the tenant", async () => {
    const before = server.received.length;
    const { outcomes } = await runnerFor("/ok").run(
      [{ ...call, input: { orderNumber: "not-a-number", extra: 1 } }],
      ctx,
    );
    expect(server.received.length).toBe(before);
    expect(outcomes[0]).toMatchObject({ ok: false, result: { error: "invalid_arguments" } });
    const details = (outcomes[0]!.result as { details: string[] }).details.join(" ");
    expect(details).toMatch(/orderNumber/);
    expect(details).toMatch(/additional properties/);
  });

  it("an unknown tool is refused by name", async () => {
    const { outcomes } = await runnerFor("/ok").run([{ id: "x", name: "launch_rocket", input: {} }], ctx);
    expect(outcomes[0]).toMatchObject({ id: "x", ok: false, result: { error: "unknown_tool" } });
    expect((outcomes[0]!.result as { message: string }).message).toContain("launch_rocket");
  });

  it("an unreachable host is a failure outcome, not an exception", async () => {
    const port = await closedPort();
    const { outcomes } = await runnerFor("", 2_000, `http://127.0.0.1:${port}/`).run([call], ctx);
    expect(outcomes[0]).toMatchObject({ ok: false, result: { error: "tool_unreachable" } });
  });

  it("an oversized answer is refused rather than pushed into the model's context", async () => {
    const { outcomes } = await runnerFor("/huge").run([call], ctx);
    expect(outcomes[0]).toMatchObject({ ok: false, result: { error: "response_too_large" } });
  });

  it("a barge-in cancels in-flight webhooks at once", async () => {
    const controller = new AbortController();
    const started = Date.now();
    const pending = runnerFor("/slow", 5_000).run([call], { ...ctx, signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const { outcomes } = await pending;
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(outcomes[0]).toMatchObject({ ok: false, result: { error: "cancelled" } });
  });

  it("one failing tool does not spoil the others of the same turn", async () => {
    const runner = new ToolRunner({
      signing: fixedToolSigningKeys(SECRET),
      tools: [
        {
          name: "ok_tool",
          description: "d",
          inputSchema: { type: "object" },
          webhook: { url: `${server.url}/ok`, timeoutMs: 2_000 },
        },
        {
          name: "bad_tool",
          description: "d",
          inputSchema: { type: "object" },
          webhook: { url: `${server.url}/broken`, timeoutMs: 2_000 },
        },
      ],
    });
    const { outcomes } = await runner.run(
      [
        { id: "a", name: "bad_tool", input: {} },
        { id: "b", name: "ok_tool", input: {} },
      ],
      ctx,
    );
    expect(outcomes.map((o) => [o.id, o.ok])).toEqual([
      ["a", false],
      ["b", true],
    ]);
  });

  it("a tool whose schema isn't valid strict JSON Schema fails its calls, not the call session", async () => {
    const runner = new ToolRunner({
      signing: fixedToolSigningKeys(SECRET),
      tools: [
        {
          name: "weird",
          description: "d",
          inputSchema: { type: "object", properties: { a: { type: "string", "x-made-up": true } } },
          webhook: { url: `${server.url}/ok`, timeoutMs: 2_000 },
        },
      ],
    });
    const { outcomes } = await runner.run([{ id: "w", name: "weird", input: { a: "x" } }], ctx);
    expect(outcomes[0]).toMatchObject({ ok: false, result: { error: "tool_misconfigured" } });
  });
});
