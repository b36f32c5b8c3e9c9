// Post-call analysis and cost per call through the whole local path: a signed Twilio webhook to the edge (workerd),
// a spoken conversation on a real media node (official SDKs against the emulators), the node's events into the
// call's ledger, the ledger's outbox into Postgres and onto the analysis queue, the queue consumer asking the
// Bedrock emulator (SigV4 over HTTP/1.1 from workerd), and GET /v1/calls/{id} serving the stored analysis and the
// priced usage. A second agent's schema the extraction cannot satisfy shows the refused data is never stored.
import { afterAll, beforeAll, expect, test } from "vitest";
import { newCallSid, runCall } from "../../../emulators/twilio-caller/caller.ts";
import { type Api, FRONT_DESK, LocalPlatform, until } from "../../../scripts/local-platform.ts";

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

let platform: LocalPlatform;
let key: string;
let api: Api;

/** An agent with the given analysis settings on a number of its own. */
async function agentOnNumber(analysis: Record<string, unknown>): Promise<string> {
  return (await platform.agentOnNumber(key, { ...FRONT_DESK, analysis })).number;
}

/** A call through the real path, hung up by the caller, then the carrier's final status. Returns the call ID. */
async function placeCall(number: string): Promise<string> {
  const callSid = newCallSid();
  const callId = await platform.scriptCaller(callSid, LINES);
  const answered = await platform.placeCall(number, callSid);
  const report = await runCall(answered.caller, { script: SCRIPT, greetingTimeoutMs: 10_000 });
  expect(report.errors).toEqual([]);
  const status = await platform.completeCall(number, report);
  expect(status).toBe(200);
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

/** The call as the API serves it, once its analysis is stored. */
function analyzedCall(callId: string): Promise<CallOut> {
  return until(
    "the analysis",
    async () => {
      const r = await api<CallOut>("GET", `/v1/calls/${callId}`);
      return r.body.analysis ? r.body : undefined;
    },
    { timeoutMs: 30_000, everyMs: 250 },
  );
}

beforeAll(async () => {
  // The edge runs analyses itself and reaches the emulator the way it reaches Bedrock.
  platform = await LocalPlatform.start({ nodeIds: [NODE_ID], edgeUsesBedrock: true });
  ({ key } = await platform.signUp("Spokes Bikes"));
  api = platform.api(key);
}, 180_000);

afterAll(async () => {
  await platform?.close();
});

test("a finished call is analyzed from its transcript on the cheapest tier, stored, and served with its cost", async () => {
  const number = await agentOnNumber({
    successRubric: 'The call succeeds when the caller asks for an "appointment".',
    dataSchema: dataSchema("^\\+?[0-9]{10,15}$"),
  });
  const callId = await placeCall(number);
  const call = await analyzedCall(callId);
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
  const request = platform.br.requests().find((r) => r.operation === "Converse");
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
  const call = await analyzedCall(callId);
  expect(call.analysis).toMatchObject({ status: "completed", data: null, success: null });
  expect(call.analysis?.dataErrors?.join("\n")).toMatch(/callback_number/);
  expect(call.analysis?.summary).toMatch(/Maria Lopez/);
}, 120_000);
