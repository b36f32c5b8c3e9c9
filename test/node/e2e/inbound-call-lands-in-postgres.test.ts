// The whole path of an inbound call, each part real and local: a signed Twilio voice webhook to the edge Worker
// (workerd via wrangler), TwiML with a media stream and a call token, the simulated Twilio caller connecting to a
// real media node (official Deepgram and AWS SDK clients against the emulators), a spoken conversation, then
// Twilio's status callback. At the end the call and every turn are in Postgres, and the tenant's lease is back.
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, expect, test } from "vitest";
import { newCallSid, runCall } from "../../../emulators/twilio-caller/caller.ts";
import {
  type Api,
  FRONT_DESK,
  fixtureLines,
  LocalPlatform,
  type Tenant,
  until,
} from "../../../scripts/local-platform.ts";
import { callTurns } from "../../../workers/src/db/schema.ts";

const NODE_ID = "node-e2e-1";
const SCRIPT = ["book-appointment", "thanks-goodbye"];

let platform: LocalPlatform;
let api: Api;
let tenant: Tenant;
let number: string;

beforeAll(async () => {
  platform = await LocalPlatform.start({ nodeIds: [NODE_ID] });
  tenant = await platform.signUp("Spokes Bikes");
  api = platform.api(tenant.key);
  ({ number } = await platform.agentOnNumber(tenant.key, FRONT_DESK));
}, 120_000);

afterAll(async () => {
  await platform?.close();
});

test("a signed webhook, TwiML, a conversation on a real media node and the status callback end up in Postgres", async () => {
  const lines = await fixtureLines(SCRIPT);
  const callSid = newCallSid();
  const callId = await platform.scriptCaller(callSid, lines);

  const answered = await platform.placeCall(number, callSid);
  expect(answered.stream.url).toBe(`${platform.mediaNode(NODE_ID).url.replace(/^http/, "ws")}/v1/telephony/twilio`);
  expect(answered.stream.parameters.callId).toBe(callId);
  const during = await api<{ activeCalls: number }>("GET", `/v1/accounts/${tenant.accountId}`);
  expect(during.body.activeCalls).toBe(1);

  const report = await runCall(answered.caller, { script: SCRIPT, greetingTimeoutMs: 10_000 });
  expect(report.errors).toEqual([]);
  expect(report.greeting?.firstAgentAudioMs).not.toBeNull();
  expect(report.turns.every((t) => !t.timedOut)).toBe(true);

  const status = await platform.completeCall(number, report);
  expect(status).toBe(200);

  const db = platform.edge.db.db;
  const call = await platform.endedCall(tenant.accountId, callId);
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
