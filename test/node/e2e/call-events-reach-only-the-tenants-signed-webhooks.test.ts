// Event webhooks and per-tenant tool signing on the real path: a signed Twilio webhook to the edge (workerd via
// wrangler, with its Cloudflare Queues simulated), a conversation on a real media node, Twilio's status callback.
// The call ledger's events go through the queue to endpoints this test serves, and each is verified with the official
// `standardwebhooks` package, as a tenant would. An endpoint that fails five times gets the event when it recovers;
// another tenant's endpoint gets nothing; the node's tool requests for tenant A verify with A's secret and not B's.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, expect, test } from "vitest";
import { newCallSid, runCall } from "../../../emulators/twilio-caller/caller.ts";
import { ToolRunner } from "../../../media-nodes/src/tools/runner.ts";
import { verifySignature } from "../../../media-nodes/src/tools/signing.ts";
import { EdgeToolSigningKeys } from "../../../media-nodes/src/tools/signing-keys.ts";
import { fixtureLines, LocalPlatform, until as poll } from "../../../scripts/local-platform.ts";

const NODE_ID = "node-events-1";
const SCRIPT = ["thanks-goodbye"];

type Received = { body: string; headers: IncomingHttpHeaders; status: number };
type Endpoint = { url: string; received: Received[]; close: () => Promise<void> };

/** A tenant's endpoint: records every request; answers `statusFor(n)` to the n-th (from 1). */
async function serveEndpoint(statusFor: (n: number) => number = () => 200): Promise<Endpoint> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const status = statusFor(received.length + 1);
      received.push({ body: Buffer.concat(chunks).toString("utf8"), headers: req.headers, status });
      res.writeHead(status, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

let platform: LocalPlatform;
const endpoints: Endpoint[] = [];

const api = <T>(method: string, path: string, key: string, body?: unknown) => platform.api(key)<T>(method, path, body);
// Deliveries are retried a second apart: 30 s covers five failures and the analysis.
const until = <T>(what: string, probe: () => T | undefined | Promise<T | undefined>) =>
  poll(what, probe, { timeoutMs: 30_000 });

async function addEndpoint(key: string, endpoint: Endpoint, events: string[]) {
  const r = await api<{ id: string; secret: string }>("POST", "/v1/webhook-endpoints", key, {
    url: endpoint.url,
    events,
  });
  expect(r.status).toBe(201);
  return r.body;
}

const headersOf = (r: Received) => ({
  "webhook-id": String(r.headers["webhook-id"]),
  "webhook-timestamp": String(r.headers["webhook-timestamp"]),
  "webhook-signature": String(r.headers["webhook-signature"]),
});

beforeAll(async () => {
  // Retries a second apart instead of minutes and hours, so five failures take seconds. The edge's post-call
  // analysis asks the same Bedrock emulator.
  platform = await LocalPlatform.start({
    nodeIds: [NODE_ID],
    edgeUsesBedrock: true,
    edgeVars: { WEBHOOK_RETRY_DELAYS_SECONDS: "1,1,1,1,1,1,1" },
  });
}, 120_000);

afterAll(async () => {
  await platform?.close();
  await Promise.all(endpoints.map((e) => e.close()));
});

test("a call's events reach the tenant's endpoints signed, survive five failures, and reach no other tenant", async () => {
  const a = await platform.signUp("Events A");
  const b = await platform.signUp("Events B");
  const { agentId, number } = await platform.agentOnNumber(a.key, {
    systemPrompt: "You are a receptionist. Keep answers short.",
    firstMessage: "Hello, how can I help?",
    analysis: {},
  });

  const steady = await serveEndpoint();
  const flaky = await serveEndpoint((n) => (n <= 5 ? 500 : 200));
  const other = await serveEndpoint();
  endpoints.push(steady, flaky, other);
  const steadyEndpoint = await addEndpoint(a.key, steady, ["call.started", "call.ended", "call.analyzed"]);
  const flakyEndpoint = await addEndpoint(a.key, flaky, ["call.ended"]);
  const otherEndpoint = await addEndpoint(b.key, other, []);

  const callSid = newCallSid();
  const callId = await platform.scriptCaller(callSid, await fixtureLines(SCRIPT));
  const answered = await platform.placeCall(number, callSid);
  const report = await runCall(answered.caller, { script: SCRIPT, greetingTimeoutMs: 10_000 });
  expect(report.errors).toEqual([]);
  expect(await platform.completeCall(number, report)).toBe(200);

  // The steady endpoint: call.started, call.ended and call.analyzed, each verified with the endpoint's secret by
  // standardwebhooks.
  const both = await until("call.started, call.ended and call.analyzed", () =>
    steady.received.length >= 3 ? steady.received : undefined,
  );
  const hook = new Webhook(steadyEndpoint.secret);
  const events = both.map(
    (r) => hook.verify(r.body, headersOf(r)) as { type: string; version: number; data: Record<string, unknown> },
  );
  expect(events.map((e) => e.type).sort()).toEqual(["call.analyzed", "call.ended", "call.started"]);
  // The analysis, as the API stores it: the summary of the call as heard.
  const analyzed = events.find((e) => e.type === "call.analyzed");
  expect(analyzed?.data).toMatchObject({ callId, summary: expect.any(String) });
  expect(String(analyzed?.data.summary).length).toBeGreaterThan(0);
  const started = events.find((e) => e.type === "call.started");
  const ended = events.find((e) => e.type === "call.ended");
  expect(started).toMatchObject({
    version: 1,
    data: { callId, direction: "inbound", to: number, agentId },
  });
  expect(ended?.data).toMatchObject({ callId, status: "completed" });
  expect(ended?.data.endReason).toEqual(expect.any(String));
  expect(ended?.data.durationSeconds).toBeGreaterThan(0);
  expect(String(ended?.data.transcriptUrl)).toMatch(new RegExp(`/v1/calls/${callId}$`));
  // The transcript link answers with the call's turns.
  const transcript = await api<{ turns: unknown[] }>("GET", `/v1/calls/${callId}`, a.key);
  expect(transcript.body.turns.length).toBeGreaterThan(0);
  // Another endpoint's secret does not verify it.
  expect(() => new Webhook(otherEndpoint.secret).verify(both[0]?.body ?? "", headersOf(both[0] as Received))).toThrow();

  // The flaky endpoint: five 500s, then the sixth attempt is accepted; every attempt carries the same webhook-id.
  const recovered = await until("the flaky endpoint to recover", () =>
    flaky.received.some((r) => r.status === 200) ? flaky.received : undefined,
  );
  expect(recovered.map((r) => r.status)).toEqual([500, 500, 500, 500, 500, 200]);
  expect(new Set(recovered.map((r) => r.headers["webhook-id"])).size).toBe(1);
  const delivered = new Webhook(flakyEndpoint.secret).verify(
    recovered[5]?.body ?? "",
    headersOf(recovered[5] as Received),
  ) as { type: string };
  expect(delivered.type).toBe("call.ended");
  // The API lists the delivery with every attempt, its status and latency.
  const deliveries = await until("the delivery to be recorded as succeeded", async () => {
    const r = await api<{ data: { status: string; attempts: { statusCode: number | null; latencyMs: number }[] }[] }>(
      "GET",
      `/v1/webhook-endpoints/${flakyEndpoint.id}/deliveries`,
      a.key,
    );
    return r.body.data[0]?.status === "succeeded" ? r.body.data : undefined;
  });
  expect(deliveries[0]?.attempts.map((t) => t.statusCode)).toEqual([500, 500, 500, 500, 500, 200]);
  expect(deliveries[0]?.attempts.every((t) => t.latencyMs >= 0)).toBe(true);

  // Tenant B's endpoint, subscribed to everything, got none of A's events.
  expect(other.received).toEqual([]);
  const bDeliveries = await api<{ data: unknown[] }>(
    "GET",
    `/v1/webhook-endpoints/${otherEndpoint.id}/deliveries`,
    b.key,
  );
  expect(bDeliveries.body.data).toEqual([]);

  // Tool webhooks: the node signs A's call's requests with A's own tool-signing secret, which B's does not verify.
  const aTool = await api<{ secret: string }>("POST", "/v1/tool-signing-secret/rotate", a.key);
  const bTool = await api<{ secret: string }>("POST", "/v1/tool-signing-secret/rotate", b.key);
  const toolServer = await serveEndpoint();
  endpoints.push(toolServer);
  const signing = new EdgeToolSigningKeys({
    baseUrl: `${platform.edge.url}/v1`,
    nodeId: NODE_ID,
    secret: platform.edge.nodeSecrets[NODE_ID] ?? "",
  });
  const runner = new ToolRunner({
    signing,
    tools: [
      {
        name: "lookup_order",
        description: "Look up an order.",
        inputSchema: { type: "object", properties: { n: { type: "string" } }, required: ["n"] },
        webhook: { url: toolServer.url, timeoutMs: 5_000 },
      },
    ],
  });
  const { outcomes } = await runner.run([{ id: "tu_1", name: "lookup_order", input: { n: "4821" } }], {
    callId,
    tenantId: a.accountId,
    history: [],
  });
  expect(outcomes[0]?.ok).toBe(true);
  const toolRequest = toolServer.received[0] as Received;
  const signed = {
    timestamp: String(toolRequest.headers["x-aybiza-timestamp"]),
    signature: String(toolRequest.headers["x-aybiza-signature"]),
  };
  expect(verifySignature(aTool.body.secret, signed, toolRequest.body)).toEqual({ ok: true });
  expect(verifySignature(bTool.body.secret, signed, toolRequest.body).ok).toBe(false);
  // The edge hands a call's secret only for that call's tenant.
  await expect(signing.secretsFor({ callId, tenantId: b.accountId })).rejects.toThrow(/another tenant/);
}, 150_000);
