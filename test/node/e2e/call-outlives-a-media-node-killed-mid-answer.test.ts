// Issue 11's acceptance test: a media node killed (`kill -9`, a real SIGKILL of a real process) while the agent is
// answering. Everything is real and local: the edge (workerd, PGlite), two media nodes as child processes in one
// region registered by heartbeats, the Deepgram and Bedrock emulators, and the simulated Twilio caller, which follows
// the TwiML <Redirect> when its stream dies as Twilio does. The caller must hear the bridge line on the second stream,
// the conversation must go on with its history (the model on the new node is asked with the earlier turns), and the
// stored call must hold every turn the caller heard, once. With no other node, the caller hears the apology and the
// call ends `failed` / `media_node_lost` with the tenant's lease back.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { and, asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, expect, test } from "vitest";
import WebSocket from "ws";
import { type CallReport, newCallSid, runCall, type SimulatedCaller } from "../../../emulators/twilio-caller/caller.ts";
import { type Api, LocalPlatform, until as poll, type Tenant } from "../../../scripts/local-platform.ts";
import { REPO_ROOT } from "../../../scripts/platform/processes.ts";
import { callTurns } from "../../../workers/src/db/schema.ts";

const NODE_IDS = ["node-resume-a", "node-resume-b"] as const;
const BRIDGE = "Sorry, I lost you for a second…";
const ORDER_LINE = "Can you tell me where my order 48213 is?";
const HOURS_LINE = "What are your opening hours on Saturday?";
const LOST_APOLOGY = /lost the connection to your call/;

interface NodeProcess {
  id: string;
  child: ChildProcess;
  /** ws://host:port (the stream base URL it advertises). */
  url: string;
  exited: Promise<void>;
  output(): string;
}

let platform: LocalPlatform;
let api: Api;
const nodes = new Map<string, NodeProcess>();
let tenant: Tenant;
let number: string;

const until = <T>(
  what: string | (() => string),
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
) => poll(what, probe, { timeoutMs, everyMs: 100 });

/** `npm run media-node` as the platform runs it: a process of its own, so `kill -9` is the real thing. */
async function startNodeProcess(id: string): Promise<NodeProcess> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("AWS_")) env[k] = v;
  Object.assign(env, platform.mediaNodeEnv(id));
  delete env.MEDIA_AGENTS_FILE;
  delete env.SESSION_SINK_URL;
  const child = spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "media-nodes/src/main.ts")], {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const listening = await until(
    `media node ${id} to register`,
    () => {
      if (child.exitCode !== null) throw new Error(`media node ${id} exited: ${out}`);
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      return url && out.includes("registered with the edge") ? url : undefined;
    },
    30_000,
  );
  const node = { id, child, url: listening.replace(/^http/, "ws"), exited, output: () => out };
  nodes.set(id, node);
  return node;
}

function nodeOf(streamUrl: string): NodeProcess {
  const node = [...nodes.values()].find((n) => streamUrl.startsWith(n.url));
  if (!node) throw new Error(`no node serves ${streamUrl}`);
  return node;
}

async function killNode(node: NodeProcess): Promise<void> {
  node.child.kill("SIGKILL");
  await node.exited;
}

/** The call's CallLedger as the console's live feed shows it first: the snapshot. */
async function ledgerSnapshot(callId: string): Promise<{
  state: string;
  record: { nodeId?: string };
  actions?: { type: string; detail?: string }[];
}> {
  const ws = new WebSocket(`${platform.edge.url.replace(/^http/, "ws")}/v1/calls/${callId}/live`, {
    headers: { authorization: `Bearer ${tenant.key}` },
  });
  try {
    const first = await new Promise<string>((resolve, reject) => {
      ws.once("message", (data) => resolve(String(data)));
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`live feed: HTTP ${res.statusCode}`)));
    });
    return (JSON.parse(first) as { snapshot: Awaited<ReturnType<typeof ledgerSnapshot>> }).snapshot;
  } finally {
    ws.close();
  }
}

/**
 * Places a call and, once the caller has heard the first clause of turn `turn` (its mark echoed) and the node has had
 * a moment to checkpoint it, kills the node.
 */
async function callAndKill(
  callSid: string,
  script: Parameters<typeof runCall>[1]["script"],
  turn: number,
): Promise<{ report: CallReport; killed: NodeProcess; killedAt: number; spoken: string[] }> {
  const answered = await platform.placeCall(number, callSid, { replyTimeoutMs: 15_000, replySilenceMs: 700 });
  const first = nodeOf(answered.stream.url);
  const caller: SimulatedCaller = answered.caller;
  const running = runCall(caller, { script, greetingTimeoutMs: 10_000 });
  const heardMark = new RegExp(`^t${turn}c\\d+$`);
  await until(
    `the caller to hear the first clause of turn ${turn}`,
    () => (caller.report().marks.some((m) => heardMark.test(m.name) && m.echoedAt !== null) ? true : undefined),
    20_000,
  );
  // The echo has to reach the node and its checkpoint the edge (one HTTP request): a node killed within those few
  // milliseconds loses that one mark, as a real one would. The answer goes on for seconds after its first clause.
  await new Promise((r) => setTimeout(r, 400));
  const killedAt = Date.now();
  await killNode(first);
  return { report: await running, killed: first, killedAt, spoken: answered.spoken };
}

beforeAll(async () => {
  platform = await LocalPlatform.start({
    nodeIds: [...NODE_IDS],
    inProcessNodes: [],
    backend: "pglite",
    logLevel: "error",
  });
  tenant = await platform.signUp("Spokes Bikes");
  api = platform.api(tenant.key);
  ({ number } = await platform.agentOnNumber(tenant.key, {
    systemPrompt: "You are the receptionist of Spokes, a bike shop.",
    firstMessage: "Thanks for calling Spokes, how can I help?",
  }));
  await Promise.all(NODE_IDS.map((id) => startNodeProcess(id)));
}, 120_000);

afterAll(async () => {
  for (const node of nodes.values())
    if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill();
  await Promise.all([...nodes.values()].map((n) => n.exited));
  await platform?.close();
});

test("a node killed while the agent answers: the caller hears the bridge on another node, the conversation goes on, every heard turn is stored once", async () => {
  const callSid = newCallSid();
  const callId = await platform.scriptCaller(callSid, [ORDER_LINE, HOURS_LINE]);

  // The caller asks about an order, is cut off while the answer plays, waits through the gap, then asks on.
  const { report, killed, killedAt } = await callAndKill(callSid, [ORDER_LINE, { pauseMs: 7_000 }, HOURS_LINE], 1);
  const survivor = [...nodes.values()].find((n) => n !== killed);
  if (!survivor) throw new Error("no second node");

  // What the caller heard: two streams, the second on the other node, and on it the bridge first, soon after the cut.
  expect(report.streams).toHaveLength(2);
  const [lost, resumed] = report.streams;
  expect(nodeOf(lost?.url ?? "").id).toBe(killed.id);
  expect(nodeOf(resumed?.url ?? "").id).toBe(survivor.id);
  const onSecond = report.marks.filter((m) => m.receivedAt >= (resumed?.openedAt ?? Number.POSITIVE_INFINITY));
  // Turn 0 was the greeting, turn 1 the answer that was cut: the resumed node's first turn is 2, the bridge (its
  // pre-synthesized line's mark, or a clause's if it had to be synthesized then).
  expect(onSecond[0]?.name).toMatch(/^t2(bridge\d+|c\d+)$/);
  expect(onSecond[0]?.echoedAt).not.toBeNull();
  expect((onSecond[0]?.receivedAt ?? 0) - (lost?.closedAt ?? 0)).toBeLessThan(5_000);
  // The answer to the last question came on the new node.
  expect(report.turns.at(-1)).toMatchObject({ line: HOURS_LINE, timedOut: false });

  // The history reached the new node: its first model request carries the turns said on the lost one.
  const resumedRequests = platform.br
    .requests()
    .filter(
      (r) =>
        r.receivedAt > killedAt &&
        (r.body as { requestMetadata?: { callId?: string } } | null)?.requestMetadata?.callId === callId,
    );
  expect(resumedRequests.length).toBeGreaterThanOrEqual(1);
  const firstAfter = JSON.stringify((resumedRequests[0]?.body as { messages?: unknown } | undefined)?.messages);
  expect(firstAfter).toContain("48213");
  expect(firstAfter).toContain("Thanks for calling Spokes");

  const status = await platform.completeCall(number, report);
  expect(status).toBe(200);

  // What is stored: every turn the caller heard, each (turn, speaker) once, the cut answer as heard.
  const db = platform.edge.db.db;
  const call = await platform.endedCall(tenant.accountId, callId);
  expect(call.status).toBe("completed");
  let seen: unknown[] = [];
  const turns = await until(
    () => `every turn (stored so far: ${JSON.stringify(seen)})`,
    async () => {
      const rows = await db
        .select()
        .from(callTurns)
        .where(and(eq(callTurns.tenantId, tenant.accountId), eq(callTurns.callId, callId)))
        .orderBy(asc(callTurns.turnIndex), asc(callTurns.speaker));
      seen = rows.map((r) => [r.turnIndex, r.speaker, r.text, r.interrupted]);
      return rows.some((r) => r.speaker === "caller" && r.text === HOURS_LINE) &&
        rows.some((r) => r.turnIndex === 1 && r.speaker === "agent")
        ? rows
        : undefined;
    },
  );
  const keys = turns.map((t) => `${t.turnIndex}/${t.speaker}`);
  expect(new Set(keys).size).toBe(keys.length);
  const row = (index: number, speaker: "caller" | "agent") =>
    turns.find((t) => t.turnIndex === index && t.speaker === speaker);
  expect(row(0, "agent")?.text).toBe("Thanks for calling Spokes, how can I help?");
  expect(row(1, "caller")?.text).toBe(ORDER_LINE);
  expect(row(1, "agent")?.interrupted).toBe(true);
  expect(row(1, "agent")?.text.length).toBeGreaterThan(0);
  // The bridge is the platform's own line: stored with its turn as one, tagged `bridge`, not as the model's words.
  expect(row(2, "agent")).toMatchObject({ text: BRIDGE, lines: [{ source: "bridge", text: BRIDGE }] });
  const later = turns.filter((t) => t.turnIndex > 2);
  expect(later.some((t) => t.speaker === "agent" && t.text.length > 0)).toBe(true);
  expect(later.find((t) => t.speaker === "caller")?.text).toBe(HOURS_LINE);

  // And served so: GET /v1/calls/{id} names the line's source.
  const served = await api<{ turns: { turnIndex: number; speaker: string; lines: unknown[] }[] }>(
    "GET",
    `/v1/calls/${callId}`,
  );
  expect(served.status).toBe(200);
  expect(served.body.turns.find((t) => t.turnIndex === 2 && t.speaker === "agent")?.lines).toEqual([
    { source: "bridge", text: BRIDGE },
  ]);

  // The ledger names the node the call ended on, and its log says which one was lost.
  const snapshot = await ledgerSnapshot(callId);
  expect(snapshot.record.nodeId).toBe(survivor.id);
  expect(snapshot.actions?.some((a) => a.type === "resume" && a.detail?.includes(killed.id))).toBe(true);
}, 90_000);

test("with no other node left: the caller hears the apology, the call ends failed / media_node_lost, the lease is back", async () => {
  const callSid = newCallSid();
  const callId = await platform.scriptCaller(callSid, [ORDER_LINE]);
  const { spoken } = await callAndKill(callSid, [ORDER_LINE, { pauseMs: 3_000 }], 1);
  expect(spoken.some((s) => LOST_APOLOGY.test(s))).toBe(true);

  const call = await platform.endedCall(tenant.accountId, callId, "the ended call record");
  expect(call).toMatchObject({ status: "failed", endReason: "media_node_lost" });
  const after = await until("the lease to be released", async () => {
    const r = await api<{ activeCalls: number }>("GET", `/v1/accounts/${tenant.accountId}`);
    return r.body.activeCalls === 0 ? r.body : undefined;
  });
  expect(after.activeCalls).toBe(0);
}, 60_000);
