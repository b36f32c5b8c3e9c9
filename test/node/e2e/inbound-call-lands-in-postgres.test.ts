// The whole path of an inbound call, each part real and local: a signed Twilio voice webhook to the edge Worker
// (workerd via wrangler), TwiML with a media stream and a call token, the simulated Twilio caller connecting to a
// real media node (official Deepgram and AWS SDK clients against the emulators), a spoken conversation, then
// Twilio's status callback. At the end the call and every turn are in Postgres, and the tenant's lease is back.
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type BedrockEmulator, startBedrockEmulator } from "../../../emulators/bedrock/index.ts";
import { type DeepgramEmulator, startDeepgramEmulator } from "../../../emulators/deepgram/index.ts";
import { loadFixtureIndex, newCallSid, runCall } from "../../../emulators/twilio-caller/caller.ts";
import { placeCallViaWebhook, sendStatusCallback } from "../../../emulators/twilio-caller/webhook.ts";
import { loadConfig } from "../../../media-nodes/src/config.ts";
import { type RunningMediaNode, runMediaNode } from "../../../media-nodes/src/server/run.ts";
import { type LocalEdge, startLocalEdge } from "../../../scripts/local-edge.ts";
import { calls, callTurns } from "../../../workers/src/db/schema.ts";
import { callIdForCarrierCall } from "../../../workers/src/do/call-ledger/call-id.ts";

const NODE_ID = "node-e2e-1";
const SCRIPT = ["book-appointment", "thanks-goodbye"];

let edge: LocalEdge;
let dg: DeepgramEmulator;
let br: BedrockEmulator;
let node: RunningMediaNode;
let tenant: { accountId: string; key: string };
let number: string;

async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  key = tenant?.key,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${edge.url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as T };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  [dg, br, edge] = await Promise.all([
    startDeepgramEmulator({ port: 0, profile: "instant" }),
    startBedrockEmulator({ port: 0, profile: "instant" }),
    startLocalEdge({ nodeIds: [NODE_ID] }),
  ]);
  const signUp = await api<{ account: { id: string }; apiKey: { key: string } }>(
    "POST",
    "/v1/accounts",
    { name: "Spokes Bikes", email: `e2e-${crypto.randomUUID()}@example.com` },
    "",
  );
  expect(signUp.status).toBe(201);
  tenant = { accountId: signUp.body.account.id, key: signUp.body.apiKey.key };
  const agent = await api<{ id: string }>("POST", "/v1/agents", {
    name: "Front desk",
    publish: true,
    config: {
      systemPrompt: "You are the receptionist of Spokes, a bike shop. Keep answers to one or two short sentences.",
      firstMessage: "Thanks for calling Spokes, how can I help?",
    },
  });
  expect(agent.status).toBe(201);
  number = `+1415${String(Date.now()).slice(-7)}`;
  expect(
    (await api("POST", "/v1/phone-numbers", { e164: number, provider: "twilio", agentId: agent.body.id })).status,
  ).toBe(201);

  const [kid, publicKey] = Object.entries(edge.callTokenPublicKeys)[0] ?? [];
  node = await runMediaNode(
    loadConfig({
      MEDIA_PORT: "0",
      MEDIA_HOST: "127.0.0.1",
      MEDIA_REGION: "us-east-1",
      MEDIA_NODE_ID: NODE_ID,
      MEDIA_NODE_SECRET: edge.nodeSecrets[NODE_ID],
      CALL_TOKEN_PUBLIC_KEYS: `${kid}:${publicKey}`,
      DEEPGRAM_URL: dg.url,
      DEEPGRAM_API_KEY: "emulator-key",
      BEDROCK_ENDPOINT: br.url,
      EDGE_URL: edge.url,
      MEDIA_HEARTBEAT_MS: "1000",
      MEDIA_LOG_LEVEL: "warn",
    }),
  );
  await node.heartbeat?.registered;
}, 120_000);

afterAll(async () => {
  await node?.close();
  await Promise.all([dg?.close(), br?.close()]);
  await edge?.stop();
});

test("a signed webhook, TwiML, a conversation on a real media node and the status callback end up in Postgres", async () => {
  const index = await loadFixtureIndex();
  const lines = SCRIPT.map((name) => index.fixtures.find((f) => f.name === name)?.text ?? name);
  const callSid = newCallSid();
  const callId = await callIdForCarrierCall("twilio", callSid);
  dg.setScript(callId, lines);

  const answered = await placeCallViaWebhook({
    voiceUrl: `${edge.url}/v1/telephony/twilio/voice`,
    authToken: edge.twilioAuthToken,
    from: "+12125550123",
    to: number,
    callSid,
    caller: { replyTimeoutMs: 15_000 },
  });
  if (answered.outcome !== "connected") throw new Error(`call not connected: ${JSON.stringify(answered)}`);
  expect(answered.stream.url).toBe(`${node.url.replace(/^http/, "ws")}/v1/telephony/twilio`);
  expect(answered.stream.parameters.callId).toBe(callId);
  const during = await api<{ activeCalls: number }>("GET", `/v1/accounts/${tenant.accountId}`);
  expect(during.body.activeCalls).toBe(1);

  const report = await runCall(answered.caller, { script: SCRIPT, greetingTimeoutMs: 10_000 });
  expect(report.errors).toEqual([]);
  expect(report.greeting?.firstAgentAudioMs).not.toBeNull();
  expect(report.turns.every((t) => !t.timedOut)).toBe(true);

  const status = await sendStatusCallback({
    statusUrl: `${edge.url}/v1/telephony/twilio/status`,
    authToken: edge.twilioAuthToken,
    callSid,
    accountSid: answered.accountSid,
    status: "completed",
    duration: report.durationMs / 1000,
    from: "+12125550123",
    to: number,
  });
  expect(status.status).toBe(200);

  const db = edge.db.db;
  const call = await until("the finished call record", async () => {
    const [row] = await db
      .select()
      .from(calls)
      .where(and(eq(calls.tenantId, tenant.accountId), eq(calls.id, callId)));
    return row?.endedAt ? row : undefined;
  });
  expect(call).toMatchObject({
    direction: "inbound",
    status: "completed",
    providerCallSid: callSid,
    region: "us-east-1",
    toNumber: number,
  });
  expect(call.answeredAt).not.toBeNull();

  // The greeting plus one turn per line: the caller's words and the agent's reply each.
  const turns = await until("every turn", async () => {
    const rows = await db
      .select()
      .from(callTurns)
      .where(and(eq(callTurns.tenantId, tenant.accountId), eq(callTurns.callId, callId)))
      .orderBy(callTurns.turnIndex, callTurns.speaker);
    return rows.length >= 1 + 2 * SCRIPT.length ? rows : undefined;
  });
  expect(turns.filter((t) => t.speaker === "caller").map((t) => t.text)).toEqual(lines);
  expect(turns.filter((t) => t.speaker === "agent").every((t) => t.text.length > 0)).toBe(true);
  expect(turns[0]).toMatchObject({ turnIndex: 0, speaker: "agent" });

  const after = await until("the lease to be released", async () => {
    const r = await api<{ activeCalls: number }>("GET", `/v1/accounts/${tenant.accountId}`);
    return r.body.activeCalls === 0 ? r.body : undefined;
  });
  expect(after.activeCalls).toBe(0);
}, 120_000);
