// The whole platform on free ports (PGlite, proxy, emulators, wrangler dev, a media node, demo tools), the demo
// tenant seeded through the API, and the demo call placed the way Twilio would: afterwards the tenant API has the
// call with every turn and each agent turn's latency, the tools ran against the tenant's webhook, the lease is
// back, and seeding again reuses the same tenant.
import { afterAll, beforeAll, expect, test } from "vitest";
import { loadFixtureIndex } from "../../../emulators/twilio-caller/speech.ts";
import { DEMO_SCRIPT, placeDemoCall, subscribe } from "../../../scripts/platform/demo-call.ts";
import { type Platform, startPlatform } from "../../../scripts/platform/platform.ts";
import type { LiveMessage } from "../../../scripts/platform/printer.ts";
import { client, seedDemoTenant } from "../../../scripts/platform/seed.ts";
import { freePorts, offlineEnv, tempDataDir } from "./support.ts";

let platform: Platform;

beforeAll(async () => {
  platform = await startPlatform({
    dataDir: tempDataDir(),
    ports: await freePorts(),
    env: offlineEnv(),
    pgliteDir: "memory://",
  });
}, 150_000);

afterAll(async () => {
  await platform?.stop();
}, 30_000);

test("the demo call shows its turns live and ends up in the tenant API with waterfalls and the lease released", async () => {
  expect(platform.plan.emulators).toEqual(["deepgram", "bedrock"]);
  const { tenant } = platform;
  const live: LiveMessage[] = [];
  const call = await placeDemoCall({
    edgeUrl: platform.edgeUrl,
    apiKey: tenant.apiKey,
    authToken: platform.twilioAuthToken,
    from: platform.demoCaller,
    to: tenant.number,
    deepgramEmulatorUrl: platform.deepgramEmulatorUrl,
    onLive: (m) => live.push(m),
  });
  expect(call.statusCallback).toBe(200);
  expect(call.report.errors).toEqual([]);

  // Live: the greeting and one agent turn per caller line, with the tools the questions needed.
  const turns = live.flatMap((m) => (m.type === "event" && m.event.type === "turn" ? [m.event] : []));
  const lines = loadFixtureIndex().fixtures;
  const said = DEMO_SCRIPT.map((name) => lines.find((f) => f.name === name)?.text);
  expect(turns.map((t) => t.userText)).toEqual(["", ...said]);
  expect(turns.flatMap((t) => t.tools.map((tool) => `${tool.name}:${tool.ok}`))).toEqual([
    "lookup_order:true",
    "get_business_hours:true",
  ]);
  expect(turns[1]?.assistantText).toMatch(/48213/);
  expect(turns[2]?.assistantText).toMatch(/Saturday/);
  expect(platform.tools.calls.map((c) => c.tool)).toEqual(["lookup_order", "get_business_hours"]);

  // Durable: the call and its turns through the tenant API (the outbox may take a moment).
  const api = client(platform.edgeUrl);
  let body: {
    status: string;
    from: string;
    to: string;
    turns: { speaker: string; text: string; latency: { firstAudioMs: number | null } | null }[];
  } = { status: "", from: "", to: "", turns: [] };
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const answer = await api.call("GET", `/v1/calls/${call.callId}`, tenant.apiKey);
    expect(answer.status).toBe(200);
    body = answer.body as typeof body;
    if (body.status === "completed" && body.turns.length >= 7) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  expect(body).toMatchObject({ status: "completed", from: platform.demoCaller, to: tenant.number });
  const agentTurns = body.turns.filter((t) => t.speaker === "agent");
  const callerTurns = body.turns.filter((t) => t.speaker !== "agent");
  expect(callerTurns.map((t) => t.text)).toEqual(said);
  expect(agentTurns).toHaveLength(4);
  for (const t of agentTurns.slice(1)) expect(t.latency?.firstAudioMs).toBeGreaterThan(0);

  // The lease is back: a subscriber joining now sees an ended call that holds none.
  const after: LiveMessage[] = [];
  const feed = subscribe(platform.edgeUrl, tenant.apiKey, call.callId, (m) => after.push(m));
  try {
    expect(await feed.until((m) => m.type === "snapshot", 10_000)).toBe(true);
  } finally {
    feed.close();
  }
  expect(after[0]).toMatchObject({ type: "snapshot", snapshot: { state: "ended", leaseHeld: false } });
  const account = await api.call("GET", `/v1/accounts/${tenant.accountId}`, tenant.apiKey);
  expect(account.body).toMatchObject({ activeCalls: 0, plan: "business" });
}, 150_000);

test("seeding again reuses the saved demo tenant", async () => {
  const again = await seedDemoTenant({
    edgeUrl: platform.edgeUrl,
    dataDir: platform.dataDir,
    databaseUrl: platform.databaseUrl,
    toolsUrl: platform.tools.url,
  });
  expect(again).toMatchObject({
    reused: true,
    accountId: platform.tenant.accountId,
    apiKey: platform.tenant.apiKey,
    number: platform.tenant.number,
    publishedVersion: platform.tenant.publishedVersion,
  });
}, 30_000);
