// Postgres hung or down (issue 11, item 3): a call to a published number is still answered and served, its record
// reaches Postgres through the CallLedger's outbox once the database is back, the API fails fast with 503 and
// Retry-After, readiness says so, and no refused or timed-out webhook leaves a `ringing` call behind.
//
// "Hung" is a server that accepts the connection and never answers (a stopped Postgres process); "down" is a port
// that refuses. scripts/with-db.ts serves both behind the same proxy the Worker uses; requests here go through the
// real Worker entry with DATABASE_URL pointed at them, and the call's CallLedger is pointed at them through its
// `dbOverride` seam until the database "recovers".
import {
  createExecutionContext,
  env,
  runDurableObjectAlarm,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { and, eq } from "drizzle-orm";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { signNodeRequest } from "../../../shared/media-node-auth.ts";
import { agents, calls, callTurns } from "../../../workers/src/db/schema.ts";
import { callIdForCarrierCall } from "../../../workers/src/do/call-ledger/call-id.ts";
import type { CallLedger } from "../../../workers/src/do/call-ledger/call-ledger.ts";
import { CONNECT_DEADLINE_MS } from "../../../workers/src/do/call-ledger/call-ledger.ts";
import { ROUTE_FRESH_MS } from "../../../workers/src/do/number-route-cache/freshness.ts";
import { SqlKv } from "../../../workers/src/do/sql-kv.ts";
import type { Env } from "../../../workers/src/env.ts";
import worker from "../../../workers/src/index.ts";
import { spokenRefusal } from "../../../workers/src/telephony/refusals.ts";
import { readCachedRoute } from "../../../workers/src/telephony/route-lookup.ts";
import { createAgent, type Json, type Reply, signUp } from "../helpers.ts";
import { fakeCarriers } from "./fake-carriers.ts";
import {
  callRecord,
  EDGE,
  edge,
  heartbeat,
  parseStreamTwiml,
  randomNumber,
  seedTenant,
  seedTenantWithNumber,
  signLikeTwilio,
  spokenText,
  started,
  testBindings,
  turn,
  voiceParams,
  withDb,
} from "./fixtures.ts";

const bindings = env as unknown as Env & { TEST_DATABASE_URL_HUNG: string; TEST_DATABASE_URL_DOWN: string };
const HUNG = bindings.TEST_DATABASE_URL_HUNG;
const DOWN = bindings.TEST_DATABASE_URL_DOWN;
const healthy: Env = { ...bindings };
const hung: Env = { ...bindings, DATABASE_URL: HUNG };
const down: Env = { ...bindings, DATABASE_URL: DOWN };

/** One request through the real Worker entry with the given bindings; the time it took to answer. */
async function send(deployment: Env, request: Request): Promise<{ response: Response; text: string; ms: number }> {
  const ctx = createExecutionContext();
  const t0 = Date.now();
  const response = await worker.fetch(request as Parameters<typeof worker.fetch>[0], deployment, ctx);
  const text = await response.text();
  const ms = Date.now() - t0;
  await waitOnExecutionContext(ctx);
  return { response, text, ms };
}

async function voiceWebhook(deployment: Env, params: Record<string, string>) {
  const url = `${EDGE}/v1/telephony/twilio/voice`;
  const signature = await signLikeTwilio(testBindings.TWILIO_AUTH_TOKEN ?? "", url, params);
  return send(
    deployment,
    new Request(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature },
      body: new URLSearchParams(params).toString(),
    }),
  );
}

async function api(deployment: Env, method: string, path: string, key: string): Promise<Reply & { ms: number }> {
  const { response, text, ms } = await send(
    deployment,
    new Request(`http://edge.test${path}`, { method, headers: { authorization: `Bearer ${key}` } }),
  );
  const body = (/json/.test(response.headers.get("content-type") ?? "") ? JSON.parse(text) : text) as Json;
  return { status: response.status, headers: response.headers, body, ms };
}

/** A request signed as media node node-test-1, sent with the given bindings. */
async function asNode(deployment: Env, method: "GET" | "POST", path: string, event?: unknown) {
  const secrets = JSON.parse(testBindings.MEDIA_NODE_SECRETS ?? "{}") as Record<string, string>;
  const body = event === undefined ? "" : JSON.stringify(event);
  const headers = await signNodeRequest({
    nodeId: "node-test-1",
    secret: secrets["node-test-1"] ?? "",
    method,
    url: path,
    body,
  });
  return send(
    deployment,
    new Request(`${EDGE}${path}`, {
      method,
      headers: { ...headers, ...(event === undefined ? {} : { "content-type": "application/json" }) },
      ...(event === undefined ? {} : { body }),
    }),
  );
}

async function nodeEvent(deployment: Env, callId: string, event: unknown): Promise<number> {
  return (await asNode(deployment, "POST", `/v1/calls/${callId}/events`, event)).response.status;
}

async function storedCall(tenantId: string, callId: string) {
  return withDb(async (db) => {
    const [row] = await db
      .select()
      .from(calls)
      .where(and(eq(calls.tenantId, tenantId), eq(calls.id, callId)));
    const turns = await db
      .select({ turnIndex: callTurns.turnIndex, speaker: callTurns.speaker })
      .from(callTurns)
      .where(and(eq(callTurns.tenantId, tenantId), eq(callTurns.callId, callId)));
    return { row, turns };
  });
}

async function telnyxInitiated(deployment: Env, to: string, callControlId: string) {
  const raw = testBindings.TEST_TELNYX_PRIVATE_KEY ?? "";
  const pkcs8 = Uint8Array.from(atob(raw.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
  const body = JSON.stringify({
    data: {
      record_type: "event",
      id: crypto.randomUUID(),
      event_type: "call.initiated",
      payload: { call_control_id: callControlId, from: "+12125550190", to, direction: "incoming", state: "parked" },
    },
  });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = new Uint8Array(
    await crypto.subtle.sign({ name: "Ed25519" }, key, new TextEncoder().encode(`${timestamp}|${body}`)),
  );
  return send(
    deployment,
    new Request(`${EDGE}/v1/telephony/telnyx/voice`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "telnyx-timestamp": timestamp,
        "telnyx-signature-ed25519": btoa(String.fromCharCode(...signature)),
      },
      body,
    }),
  );
}

/** A call to `number` is answered with a stream; then it ends (its lease given back, the free plan allows two). */
async function expectStreamedAndHangUp(number: string) {
  const params = voiceParams(number);
  const answer = await voiceWebhook(healthy, params);
  expect(parseStreamTwiml(answer.text), answer.text).toBeDefined();
  const callId = await callIdForCarrierCall("twilio", params.CallSid ?? "");
  await edge.CALL_LEDGER.getByName(callId).end({ status: "completed", reason: "caller-hung-up" });
}

/** Points a call's CallLedger at `url` for its outbox (undefined: back to the real database). */
async function ledgerDatabase(callId: string, url: string | undefined) {
  await runInDurableObject(edge.CALL_LEDGER.getByName(callId), (instance: CallLedger) => {
    instance.dbOverride = url === undefined ? undefined : { DATABASE_URL: url };
  });
}

/** A tenant signed up through the API with a published agent and a number attached: the route cache is warm. */
async function publishedNumber() {
  const tenant = await signUp("Outage dental");
  const agent = await createAgent(tenant, { publish: true });
  const number = randomNumber("+1646");
  const attached = await send(
    healthy,
    new Request("http://edge.test/v1/phone-numbers", {
      method: "POST",
      headers: { authorization: `Bearer ${tenant.key}`, "content-type": "application/json" },
      body: JSON.stringify({ e164: number, provider: "twilio", agentId: agent.id }),
    }),
  );
  expect(attached.response.status).toBe(201);
  return { tenant, agent, number };
}

describe("a database outage costs no call", () => {
  beforeAll(() => {
    expect(HUNG && DOWN, "run through scripts/with-db.ts").toBeTruthy();
  });
  // Before each test: a node's heartbeat is fresh for 15 s, and the outage tests wait out deadlines.
  beforeEach(async () => {
    expect((await heartbeat("us-east-1", { nodeId: "node-test-1" })).status).toBe(200);
  });

  for (const [name, outage, url] of [
    ["hung", hung, HUNG],
    ["down", down, DOWN],
  ] as const) {
    it(`answers and serves a call to a published number while Postgres is ${name}; the record lands after recovery`, async () => {
      const { tenant, agent, number } = await publishedNumber();
      const params = voiceParams(number);
      const callId = await callIdForCarrierCall("twilio", params.CallSid ?? "");
      await ledgerDatabase(callId, url);

      const answer = await voiceWebhook(outage, params);
      expect(answer.response.status).toBe(200);
      const stream = parseStreamTwiml(answer.text);
      expect(stream?.parameters.callId).toBe(callId);
      // Twilio gives up after 15 s; the answer does not wait on the database at all.
      expect(answer.ms).toBeLessThan(5_000);

      // The media node fetches the agent version's prompt and runs the call; nothing of that needs the database.
      const routed = (await edge.CALL_LEDGER.getByName(callId).snapshot())?.record;
      const prefix = await asNode(
        outage,
        "GET",
        `/v1/media/prefixes/${routed?.prefixHash}?tenant=${tenant.accountId}&agent=${agent.id}&version=${routed?.agentVersion}`,
      );
      expect(prefix.response.status).toBe(200);
      expect(JSON.parse(prefix.text)).toMatchObject({
        prefix: { hash: routed?.prefixHash },
        agent: { tenantId: tenant.accountId, agentId: agent.id },
      });
      const record = callRecord(tenant.accountId, { callId, agentId: agent.id });
      expect(await nodeEvent(outage, callId, { ...started(record, 0), nodeId: "node-test-1" })).toBe(202);
      expect(await nodeEvent(outage, callId, turn(record, 0, 1))).toBe(202);

      // Meanwhile the API fails fast and says when to come back, and readiness reports the outage.
      const listed = await api(outage, "GET", "/v1/agents", tenant.key);
      expect(listed.status).toBe(503);
      expect(listed.headers.get("content-type")).toContain("application/problem+json");
      expect(Number(listed.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(listed.ms).toBeLessThan(5_000);
      const ready = await send(outage, new Request("http://edge.test/v1/health/ready"));
      expect(ready.response.status).toBe(503);
      expect(ready.response.headers.get("retry-after")).not.toBeNull();
      expect(JSON.parse(ready.text)).toMatchObject({ status: 503, databases: [{ ok: false }] });
      expect(ready.ms).toBeLessThan(5_000);

      // Nothing reached Postgres yet; the CallLedger holds it.
      const session = edge.CALL_LEDGER.getByName(callId);
      expect((await storedCall(tenant.accountId, callId)).row).toBeUndefined();
      expect((await session.snapshot())?.pending).toBeGreaterThan(0);

      // Recovery: readiness is green, and the outbox delivers the call record and its turn.
      expect((await send(healthy, new Request("http://edge.test/v1/health/ready"))).response.status).toBe(200);
      await ledgerDatabase(callId, undefined);
      await session.flushOutbox();
      const after = await storedCall(tenant.accountId, callId);
      expect(after.row).toMatchObject({ status: "in_progress", providerCallSid: params.CallSid });
      expect(after.turns).toEqual([{ turnIndex: 0, speaker: "agent" }]);
    });

    it(`refuses aloud, at once and without a trace, a number not yet cached while Postgres is ${name}`, async () => {
      const tenant = await seedTenantWithNumber(); // straight into the database: never seen by the cache
      const params = voiceParams(tenant.number);
      const callId = await callIdForCarrierCall("twilio", params.CallSid ?? "");

      const answer = await voiceWebhook(outage, params);
      expect(answer.response.status).toBe(200);
      expect(spokenText(answer.text)).toBe(spokenRefusal("unavailable"));
      expect(answer.ms).toBeLessThan(10_000);

      // No session, no lease, no record: Postgres, once back, holds no `ringing` call for it.
      expect(await edge.CALL_LEDGER.getByName(callId).snapshot()).toBeUndefined();
      const limiter = edge.TENANT_LIMITER.getByName(tenant.tenantId);
      expect(await limiter.leases()).toEqual([]);
      expect((await storedCall(tenant.tenantId, callId)).row).toBeUndefined();

      // The same number, with the database back, is answered (and cached from then on).
      const retried = await voiceWebhook(healthy, voiceParams(tenant.number));
      expect(parseStreamTwiml(retried.text)).toBeDefined();
    });
  }

  it("answers a Telnyx call to a number it has routed before while Postgres is hung", async () => {
    const carriers = fakeCarriers();
    try {
      const tenant = await seedTenantWithNumber({ provider: "telnyx" });
      // A first call while the database is up fills the route cache from Postgres.
      expect((await telnyxInitiated(healthy, tenant.number, `v3:${crypto.randomUUID()}`)).response.status).toBe(200);
      carriers.requests.length = 0;

      const callControlId = `v3:${crypto.randomUUID()}`;
      await ledgerDatabase(await callIdForCarrierCall("telnyx", callControlId), HUNG);
      const answered = await telnyxInitiated(hung, tenant.number, callControlId);
      expect(answered.response.status).toBe(200);
      expect(answered.ms).toBeLessThan(5_000);
      expect(JSON.parse(answered.text)).toMatchObject({ action: "stream" });
      expect(carriers.requests[0]?.path).toBe(`/v2/calls/${encodeURIComponent(callControlId)}/actions/answer`);
      expect(carriers.requests[0]?.json).toMatchObject({ stream_url: expect.stringContaining("/v1/telephony/telnyx") });
      await ledgerDatabase(await callIdForCarrierCall("telnyx", callControlId), undefined);
    } finally {
      carriers.restore();
    }
  });

  it("takes an agent published during normal operation into calls answered during an outage", async () => {
    const { tenant, agent, number } = await publishedNumber();
    const republished = await send(
      healthy,
      new Request(`http://edge.test/v1/agents/${agent.id}`, {
        method: "PATCH",
        headers: { authorization: `Bearer ${tenant.key}`, "content-type": "application/json" },
        body: JSON.stringify({ config: { systemPrompt: "You answer for the new practice." }, publish: true }),
      }),
    );
    expect(republished.response.status).toBe(200);

    const params = voiceParams(number);
    const callId = await callIdForCarrierCall("twilio", params.CallSid ?? "");
    await ledgerDatabase(callId, HUNG);
    const answer = await voiceWebhook(hung, params);
    expect(parseStreamTwiml(answer.text)).toBeDefined();
    const snapshot = await edge.CALL_LEDGER.getByName(callId).snapshot();
    expect(snapshot?.record.agentVersion).toBe(2);
    await ledgerDatabase(callId, undefined);
  });

  it("forgets a deleted number at once, and repairs a change the API never saw within the freshness bound", async () => {
    const { tenant, agent, number } = await publishedNumber();
    const cache = edge.NUMBER_ROUTE_CACHE.getByName(number);
    expect((await readCachedRoute(edge, number))?.route.tenantId).toBe(tenant.accountId);

    // A change made behind the API's back (here: the agent unpublished in SQL) is not seen while the entry is fresh…
    await withDb((db) =>
      db
        .update(agents)
        .set({ publishedVersionId: null })
        .where(and(eq(agents.tenantId, tenant.accountId), eq(agents.id, agent.id))),
    );
    await expectStreamedAndHangUp(number);
    // …and once it is older than the bound, the next call still uses it but refreshes it, so the one after sees it.
    await runInDurableObject(cache, (_instance, state) => {
      const entry = state.storage.kv.get<{ checkedAt: number }>("route");
      if (entry) state.storage.kv.put("route", { ...entry, checkedAt: entry.checkedAt - ROUTE_FRESH_MS - 1 });
    });
    await expectStreamedAndHangUp(number);
    const refused = await voiceWebhook(healthy, voiceParams(number));
    expect(spokenText(refused.text)).toBe(spokenRefusal("not-in-service"));

    // Deleting the number through the API forgets it before the API answers.
    const numbers = await api(healthy, "GET", "/v1/phone-numbers", tenant.key);
    const id = (numbers.body.data as { id: string; e164: string }[]).find((n) => n.e164 === number)?.id;
    expect((await api(healthy, "DELETE", `/v1/phone-numbers/${id}`, tenant.key)).status).toBeLessThan(300);
    expect(await readCachedRoute(edge, number)).toBeUndefined();
  });

  it("ends a call that was routed but never connected, and gives its capacity back", async () => {
    const tenantId = await seedTenant();
    const record = callRecord(tenantId);
    const limiter = edge.TENANT_LIMITER.getByName(tenantId);
    expect((await limiter.admitCall({ callId: record.callId, plan: "free" })).ok).toBe(true);
    const session = edge.CALL_LEDGER.getByName(record.callId);
    await session.open({ record, state: "routed", leaseHeld: true });

    // An alarm stays armed (the outbox, the node watch, the connect deadline: whichever is first) so the deadline is
    // checked without any request arriving; until the deadline the call waits.
    let armed: number | null = null;
    for (let i = 0; i < 50 && armed === null; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      armed = await runInDurableObject(session, (_instance: CallLedger, state) => state.storage.getAlarm());
    }
    expect(armed).not.toBeNull();
    expect(armed).toBeLessThanOrEqual(Date.now() + CONNECT_DEADLINE_MS);
    expect((await session.snapshot())?.state).toBe("routed");

    // Past it (the carrier gave up; no media node ever reported), the call ends and Postgres says so.
    await runInDurableObject(session, (_instance: CallLedger, state) => {
      const { kv } = SqlKv.open(state.storage.sql);
      const stored = kv.get<{ transitions: { at: number }[] }>("session");
      if (!stored) throw new Error("no session");
      for (const t of stored.transitions) t.at -= CONNECT_DEADLINE_MS + 1_000;
      kv.put("session", stored);
    });
    // The armed deadline alarm, run now (it is 90 s away in real time).
    expect(await runDurableObjectAlarm(session)).toBe(true);
    const ended = await session.snapshot();
    expect(ended).toMatchObject({ state: "ended", leaseHeld: false });
    expect(ended?.record).toMatchObject({ status: "failed", endReason: "never-connected" });
    expect(await limiter.leases()).toEqual([]);
    await session.flushOutbox();
    expect((await storedCall(tenantId, record.callId)).row).toMatchObject({ status: "failed" });
  });
});
