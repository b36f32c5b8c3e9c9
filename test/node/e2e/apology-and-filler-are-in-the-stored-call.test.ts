// Issue 11: "any turn the platform speaks is stored, apologies and fillers included", through the whole real path:
// a signed Twilio webhook to the edge (workerd, PGlite), a real media node with the official Deepgram and AWS SDK
// clients against the emulators, the simulated Twilio caller speaking recorded speech. Bedrock throttles every model
// on the first line (the caller hears the apology) and the recognizer stalls on the second (the caller hears the
// filler, then the answer). What the caller heard is then in Postgres and in GET /v1/calls/{id}: the apology and the
// filler as lines of their turns, not only the model's words.
import { and, asc, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, test } from "vitest";
import { loadFixtureIndex, newCallSid } from "../../../emulators/twilio-caller/caller.ts";
import { createLogger } from "../../../media-nodes/src/server/logger.ts";
import type { RunningMediaNode } from "../../../media-nodes/src/server/run.ts";
import { type Api, FRONT_DESK, LocalPlatform, type Tenant, until } from "../../../scripts/local-platform.ts";
import { callTurns } from "../../../workers/src/db/schema.ts";

const APOLOGY = "I'm sorry, I'm having trouble answering right now. Could you say that again?";
const FILLER = "Sorry, one moment…";

const NODE_ID = "node-e2e-lines";

let p: LocalPlatform;
let node: RunningMediaNode;
let tenant: Tenant;
let api: Api;
let number: string;
/** Called on the node's "speech recognition reopened" log line, in the same tick as the reopen. */
let onReopen: (() => void) | undefined;

beforeAll(async () => {
  p = await LocalPlatform.start({ nodeIds: [NODE_ID], inProcessNodes: [] });
  node = await p.startMediaNode(
    NODE_ID,
    createLogger("info", {}, (line) => {
      if (line.includes("speech recognition reopened")) onReopen?.();
    }),
  );
  tenant = await p.signUp("Spokes Bikes");
  api = p.api(tenant.key);
  ({ number } = await p.agentOnNumber(tenant.key, {
    systemPrompt: FRONT_DESK.systemPrompt,
    firstMessage: null,
    recognizer: "nova-3",
  }));
}, 120_000);

afterAll(async () => {
  await p?.close();
});

test("a failed model's apology and a stalled recognizer's filler are stored with their turns", async () => {
  const fixtures = (await loadFixtureIndex()).fixtures;
  const text = (name: string) => fixtures.find((f) => f.name === name)?.text ?? name;
  // The stalled stream takes the second line, and the fresh one hears its replay.
  const callSid = newCallSid();
  const callId = await p.scriptCaller(callSid, [
    text("order-status"),
    text("opening-hours"),
    text("opening-hours"),
    text("opening-hours"),
  ]);
  const answered = await p.placeCall(number, callSid);
  const caller = answered.caller;
  const started = Date.now();
  await until("the call to reach the node", () => (node.calls().length === 1 ? true : undefined));
  await caller.pause(300);

  // Every model throttled, however often the SDK and the node retry: the caller hears the apology.
  p.br.injectFault({ kind: "ThrottlingException", count: 1_000 });
  const apologized = await caller.say("order-status");
  p.br.reset();
  expect(apologized.timedOut).toBe(false);

  // The recognizer takes the audio and answers nothing; once the node reopens it, the fresh stream works.
  expect(p.dg.injectFault({ kind: "stall", tag: callId })).toBe(1);
  onReopen = () => p.dg.clearFaults();
  const waited = await caller.say("opening-hours");
  onReopen = undefined;
  expect(waited.timedOut).toBe(false);
  expect(waited.firstAgentAudioMs!).toBeLessThan(2_000);

  await caller.hangUp();
  expect(await p.completeCall(number, { ...answered, durationMs: Date.now() - started })).toBe(200);

  // What is stored, once the call's outbox has reached Postgres.
  const db = p.edge.db.db;
  await p.endedCall(tenant.accountId, callId);
  const agentTurns = await until("both agent turns", async () => {
    const rows = await db
      .select()
      .from(callTurns)
      .where(
        and(eq(callTurns.tenantId, tenant.accountId), eq(callTurns.callId, callId), eq(callTurns.speaker, "agent")),
      )
      .orderBy(asc(callTurns.turnIndex), sql`${callTurns.speaker} = 'agent'`);
    return rows.length >= 2 && rows.every((r) => r.lines !== null || r.llmRequestAt !== null) ? rows : undefined;
  });
  const [apologyTurn, fillerTurn] = agentTurns;
  expect(apologyTurn).toMatchObject({ text: APOLOGY, lines: [{ source: "apology", text: APOLOGY }] });
  expect(fillerTurn!.lines).toEqual([{ source: "filler", text: FILLER }]);
  const answer = p.br
    .requests()
    .filter((r) => r.reply?.text)
    .at(-1)
    ?.reply?.text.trim();
  expect(fillerTurn!.text).toBe(answer);

  // And as the calls API gives it: each line with its turn, the caller's words with theirs.
  const got = await api<{ turns: { turnIndex: number; speaker: string; text: string; lines: unknown[] }[] }>(
    "GET",
    `/v1/calls/${callId}`,
  );
  expect(got.status).toBe(200);
  expect(got.body.turns.map((t) => [t.turnIndex, t.speaker, t.text, t.lines])).toEqual([
    [apologyTurn!.turnIndex, "caller", text("order-status"), []],
    [apologyTurn!.turnIndex, "agent", APOLOGY, [{ source: "apology", text: APOLOGY }]],
    [fillerTurn!.turnIndex, "caller", text("opening-hours"), []],
    [fillerTurn!.turnIndex, "agent", answer, [{ source: "filler", text: FILLER }]],
  ]);
}, 90_000);
