// Post-call analysis and cost per call through the whole local path: a signed Twilio webhook to the edge (workerd),
// a spoken conversation on a real media node (official SDKs against the emulators), the node's events into the
// call's ledger, the ledger's outbox into Postgres and onto the analysis queue, the queue consumer asking the
// Bedrock emulator (SigV4 over HTTP/1.1 from workerd), and GET /v1/calls/{id} serving the stored analysis and the
// priced usage. A second agent's schema the extraction cannot satisfy shows the refused data is never stored.
import { afterAll, beforeAll, expect, test } from "vitest";
import { type BedrockEmulator, startBedrockEmulator } from "../../../emulators/bedrock/index.ts";
import { type DeepgramEmulator, startDeepgramEmulator } from "../../../emulators/deepgram/index.ts";
import { newCallSid, runCall } from "../../../emulators/twilio-caller/caller.ts";
import { placeCallViaWebhook, sendStatusCallback } from "../../../emulators/twilio-caller/webhook.ts";
import type { RunningMediaNode } from "../../../media-nodes/src/server/run.ts";
import { type LocalEdge, startLocalEdge } from "../../../scripts/local-edge.ts";
import { callIdForCarrierCall } from "../../../workers/src/do/call-ledger/call-id.ts";
import { startMediaNodeFor } from "./support/one-node-platform.ts";

const NODE_ID = "node-e2e-analysis";
const HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0";
/** Audio the simulated caller plays; the Deepgram emulator lays these words over it. */
const SCRIPT = ["book-appointment", "order-status", "thanks-goodbye"];
// Each line is laid over the recording played with it, so each is about as long to say as its audio (3.3 s and
// 3.9 s): a scripted line far longer than its audio is, rightly, cut where the recogniser ends the turn.
const LINES = [
  "Hi, this is Maria Lopez, I'd like an appointment next Tuesday.",
  "Please call me back at 415 555 0199.",
  "Thanks, that's all. Bye!",
];

const dataSchema = (callbackPattern: string) => ({
  type: "object",
  properties: {
    appointment_date: { type: "string" },
    customer_name: { type: "string" },
    callback_number: { type: "string", pattern: callbackPattern },
  },
  required: ["customer_name", "callback_number"],
});

let edge: LocalEdge;
let dg: DeepgramEmulator;
let br: BedrockEmulator;
let node: RunningMediaNode;
let key: string;

async function api<T>(method: string, path: string, body?: unknown, auth = key): Promise<{ status: number; body: T }> {
  const res = await fetch(`${edge.url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as T };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** An agent with the given analysis settings on a number of its own. */
async function agentOnNumber(analysis: Record<string, unknown>): Promise<string> {
  const agent = await api<{ id: string }>("POST", "/v1/agents", {
    name: "Front desk",
    publish: true,
    config: {
      systemPrompt: "You are the receptionist of Spokes, a bike shop. Keep answers to one or two short sentences.",
      firstMessage: "Thanks for calling Spokes, how can I help?",
      analysis,
    },
  });
  expect(agent.status).toBe(201);
  const number = `+1415${String(Date.now() + Math.floor(Math.random() * 1000)).slice(-7)}`;
  expect(
    (await api("POST", "/v1/phone-numbers", { e164: number, provider: "twilio", agentId: agent.body.id })).status,
  ).toBe(201);
  return number;
}

/** A call through the real path, hung up by the caller, then the carrier's final status. Returns the call ID. */
async function placeCall(number: string): Promise<string> {
  const callSid = newCallSid();
  const callId = await callIdForCarrierCall("twilio", callSid);
  dg.setScript(callId, LINES);
  const answered = await placeCallViaWebhook({
    voiceUrl: `${edge.url}/v1/telephony/twilio/voice`,
    authToken: edge.twilioAuthToken,
    from: "+12125550123",
    to: number,
    callSid,
    caller: { replyTimeoutMs: 15_000 },
  });
  if (answered.outcome !== "connected") throw new Error(`call not connected: ${JSON.stringify(answered)}`);
  const report = await runCall(answered.caller, { script: SCRIPT, greetingTimeoutMs: 10_000 });
  expect(report.errors).toEqual([]);
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
  return callId;
}

type Analysis = {
  status: string;
  summary: string | null;
  success: { pass: boolean; reason: string } | null;
  data: Record<string, unknown> | null;
  dataErrors: string[] | null;
  modelId: string | null;
};
type CallOut = {
  analysis: Analysis | null;
  turns: { speaker: string; text: string }[];
  cost: { total: number; breakdown: { category: string; meter: string; variant: string; costUsd: number }[] };
};

beforeAll(async () => {
  [dg, br] = await Promise.all([
    startDeepgramEmulator({ port: 0, profile: "instant" }),
    startBedrockEmulator({ port: 0, profile: "instant" }),
  ]);
  // The edge runs analyses itself and reaches the emulator the way it reaches Bedrock.
  edge = await startLocalEdge({ nodeIds: [NODE_ID], vars: { BEDROCK_ENDPOINT: br.url } });
  const signUp = await api<{ apiKey: { key: string } }>(
    "POST",
    "/v1/accounts",
    { name: "Spokes Bikes", email: `e2e-analysis-${crypto.randomUUID()}@example.com` },
    "",
  );
  expect(signUp.status).toBe(201);
  key = signUp.body.apiKey.key;
  node = await startMediaNodeFor(edge, { dg, br }, NODE_ID);
}, 180_000);

afterAll(async () => {
  await node?.close();
  await Promise.all([dg?.close(), br?.close()]);
  await edge?.stop();
});

test("a finished call is analyzed from its transcript on the cheapest tier, stored, and served with its cost", async () => {
  const number = await agentOnNumber({
    successRubric: 'The call succeeds when the caller asks for an "appointment".',
    dataSchema: dataSchema("^\\+?[0-9]{10,15}$"),
  });
  const callId = await placeCall(number);
  const call = await until("the analysis", async () => {
    const r = await api<CallOut>("GET", `/v1/calls/${callId}`);
    return r.body.analysis ? r.body : undefined;
  });
  expect(call.analysis).toMatchObject({
    status: "completed",
    modelId: HAIKU,
    success: { pass: true, reason: 'The call contains "appointment".' },
    data: {
      customer_name: "Maria Lopez",
      callback_number: "4155550199",
      appointment_date: expect.stringMatching(/Tuesday$/),
    },
    dataErrors: null,
  });
  expect(call.analysis?.summary).toContain(LINES[0]?.slice(0, 40));
  // The request the consumer made: Converse on Haiku with the transcript as stored for the call.
  const request = br.requests().find((r) => r.operation === "Converse");
  expect(request?.modelId).toBe(HAIKU);
  expect(JSON.stringify(request?.body)).toContain("Caller: Hi, this is Maria Lopez");

  // Cost: the connected call, every turn's model tokens and characters, and the analysis, each priced.
  const categories = new Set(call.cost.breakdown.map((l) => l.category));
  expect([...categories].sort()).toEqual(["analysis", "carrier", "llm", "platform", "stt", "tts"]);
  expect(call.cost.breakdown.find((l) => l.meter === "analysis.input_tokens")).toMatchObject({ variant: HAIKU });
  expect(call.cost.breakdown.every((l) => l.costUsd > 0)).toBe(true);
  expect(call.cost.total).toBeCloseTo(
    call.cost.breakdown.reduce((s, l) => s + l.costUsd, 0),
    6,
  );

  const today = new Date().toISOString().slice(0, 10);
  const usage = await api<{ totals: { calls: number; costUsd: number } }>("GET", `/v1/usage?from=${today}&to=${today}`);
  expect(usage.body.totals.calls).toBe(1);
  expect(usage.body.totals.costUsd).toBeCloseTo(call.cost.total, 5);
}, 120_000);

test("an extraction that does not satisfy the agent's schema is refused and never stored", async () => {
  const number = await agentOnNumber({ dataSchema: dataSchema("^\\+1[0-9]{10}$") });
  const callId = await placeCall(number);
  const call = await until("the analysis", async () => {
    const r = await api<CallOut>("GET", `/v1/calls/${callId}`);
    return r.body.analysis ? r.body : undefined;
  });
  expect(call.analysis).toMatchObject({ status: "completed", data: null, success: null });
  expect(call.analysis?.dataErrors?.join("\n")).toMatch(/callback_number/);
  expect(call.analysis?.summary).toMatch(/Maria Lopez/);
}, 120_000);
