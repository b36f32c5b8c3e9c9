// The whole path of an inbound call, each part real and local: a signed Twilio voice webhook to the edge Worker
// (workerd via wrangler), TwiML with a media stream and a call token, the simulated Twilio caller connecting to a
// real media node (official Deepgram and AWS SDK clients against the emulators), a spoken conversation, then
// Twilio's status callback. At the end the call and every turn are in Postgres, and the tenant's lease is back.
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, expect, test } from "vitest";
import { loadFixtureIndex, runCall } from "../../../emulators/twilio-caller/caller.ts";
import { calls, callTurns } from "../../../workers/src/db/schema.ts";
import { type OneNodePlatform, startOneNodePlatform, until } from "./support/one-node-platform.ts";

const NODE_ID = "node-e2e-1";
const SCRIPT = ["book-appointment", "thanks-goodbye"];

let p: OneNodePlatform;

beforeAll(async () => {
  p = await startOneNodePlatform({
    nodeId: NODE_ID,
    agent: {
      systemPrompt: "You are the receptionist of Spokes, a bike shop. Keep answers to one or two short sentences.",
      firstMessage: "Thanks for calling Spokes, how can I help?",
    },
  });
}, 120_000);

afterAll(async () => {
  await p?.stop();
});

test("a signed webhook, TwiML, a conversation on a real media node and the status callback end up in Postgres", async () => {
  const index = await loadFixtureIndex();
  const lines = SCRIPT.map((name) => index.fixtures.find((f) => f.name === name)?.text ?? name);
  const { callId, answered } = await p.placeCall(lines);
  expect(answered.stream.url).toBe(`${p.node.url.replace(/^http/, "ws")}/v1/telephony/twilio`);
  expect(answered.stream.parameters.callId).toBe(callId);
  const during = await p.api<{ activeCalls: number }>("GET", `/v1/accounts/${p.tenant.accountId}`);
  expect(during.body.activeCalls).toBe(1);

  const report = await runCall(answered.caller, { script: SCRIPT, greetingTimeoutMs: 10_000 });
  expect(report.errors).toEqual([]);
  expect(report.greeting?.firstAgentAudioMs).not.toBeNull();
  expect(report.turns.every((t) => !t.timedOut)).toBe(true);

  await p.hangUp(answered, report.durationMs);

  const db = p.edge.db.db;
  const call = await until("the finished call record", async () => {
    const [row] = await db
      .select()
      .from(calls)
      .where(and(eq(calls.tenantId, p.tenant.accountId), eq(calls.id, callId)));
    return row?.endedAt ? row : undefined;
  });
  expect(call).toMatchObject({
    direction: "inbound",
    status: "completed",
    providerCallSid: answered.callSid,
    region: "us-east-1",
    toNumber: p.number,
  });
  expect(call.answeredAt).not.toBeNull();

  // The greeting plus one turn per line: the caller's words and the agent's reply each.
  const turns = await until("every turn", async () => {
    const rows = await db
      .select()
      .from(callTurns)
      .where(and(eq(callTurns.tenantId, p.tenant.accountId), eq(callTurns.callId, callId)))
      .orderBy(callTurns.turnIndex, callTurns.speaker);
    return rows.length >= 1 + 2 * SCRIPT.length ? rows : undefined;
  });
  expect(turns.filter((t) => t.speaker === "caller").map((t) => t.text)).toEqual(lines);
  expect(turns.filter((t) => t.speaker === "agent").every((t) => t.text.length > 0)).toBe(true);
  expect(turns[0]).toMatchObject({ turnIndex: 0, speaker: "agent" });

  const after = await until("the lease to be released", async () => {
    const r = await p.api<{ activeCalls: number }>("GET", `/v1/accounts/${p.tenant.accountId}`);
    return r.body.activeCalls === 0 ? r.body : undefined;
  });
  expect(after.activeCalls).toBe(0);
}, 120_000);
