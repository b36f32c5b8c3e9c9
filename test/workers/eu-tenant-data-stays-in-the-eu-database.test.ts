// Residency of the tenant API: with a separate EU database configured (DATABASE_URL_EU), an EU tenant's rows
// are written to and read from that database only, and a US tenant's stay in DATABASE_URL. The requests go
// through the real Worker entry with the bindings of such a deployment; the second database is a separate
// scratch database (or PGlite) that scripts/with-db.ts serves behind the same proxy.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { accountIdFromData } from "../../shared/ids.ts";
import { openDb } from "../../workers/src/db/client.ts";
import { accounts, apiKeys, calls, callTurns, verifications } from "../../workers/src/db/schema.ts";
import type { Db } from "../../workers/src/db/types.ts";
import type { Env } from "../../workers/src/env.ts";
import worker from "../../workers/src/index.ts";
import { mintApiKey } from "../../workers/src/lib/api-key.ts";
import { newAccountId, newResourceId } from "../../workers/src/lib/ids.ts";
import { fakeCarriers } from "./call-control/fake-carriers.ts";
import type { Json, Reply } from "./helpers.ts";

const EU_URL = (env as unknown as { TEST_DATABASE_URL_EU?: string }).TEST_DATABASE_URL_EU ?? "";
const deployment: Env = { ...env, DATABASE_URL_EU: EU_URL };

async function api<T = Json>(
  method: string,
  path: string,
  { key, body }: { key?: string; body?: unknown } = {},
): Promise<Reply<T>> {
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const ctx = createExecutionContext();
  const req = new Request(`http://edge.test${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const res = await worker.fetch(req as Parameters<typeof worker.fetch>[0], deployment, ctx);
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  const parsed = text && /json/.test(res.headers.get("content-type") ?? "") ? JSON.parse(text) : text;
  return { status: res.status, headers: res.headers, body: parsed as T };
}

async function withDatabase<T>(url: string, fn: (db: Db) => Promise<T>): Promise<T> {
  const { db, close } = openDb({ DATABASE_URL: url, DB_WS_PROXY: env.DB_WS_PROXY });
  try {
    return await fn(db);
  } finally {
    await close();
  }
}

const TENANT_TABLES = [
  "users",
  "api_keys",
  "agents",
  "agent_versions",
  "phone_numbers",
  "phone_number_routes",
  "calls",
  "call_turns",
  "consent_records",
  "audit_log",
] as const;

/** How many rows the tenant has in each table of one database (its account row counted under "accounts"). */
async function rowsIn(url: string, tenantId: string): Promise<Record<string, number>> {
  const parts = [
    sql`select 'accounts' as tbl, count(*)::int as n from accounts where id = ${tenantId}`,
    ...TENANT_TABLES.map(
      (table) =>
        sql`select ${table} as tbl, count(*)::int as n from ${sql.identifier(table)} where tenant_id = ${tenantId}`,
    ),
  ];
  return withDatabase(url, async (db) => {
    const { rows } = (await db.execute(sql.join(parts, sql` union all `))) as unknown as {
      rows: Array<{ tbl: string; n: number }>;
    };
    return Object.fromEntries(rows.map((r) => [r.tbl, Number(r.n)]));
  });
}

const nothing = Object.fromEntries(["accounts", ...TENANT_TABLES].map((t) => [t, 0]));

type SignedUp = { account: { id: string; jurisdiction: string }; apiKey: { key: string } };

/** Signs up and uses the API the way a tenant would: an agent, a number attached to it, a consent record. */
async function tenantWithData(jurisdiction: "us" | "eu", number: string) {
  const made = await api<SignedUp>("POST", "/v1/accounts", {
    body: { name: `Residency ${jurisdiction}`, email: `${crypto.randomUUID()}@example.com`, jurisdiction },
  });
  expect(made.status).toBe(201);
  expect(made.body.account.jurisdiction).toBe(jurisdiction);
  const key = made.body.apiKey.key;
  const agent = await api<{ id: string }>("POST", "/v1/agents", {
    key,
    body: { name: "Front desk", config: { systemPrompt: "You answer the phone." } },
  });
  expect(agent.status).toBe(201);
  const phone = await api<{ id: string }>("POST", "/v1/phone-numbers", {
    key,
    body: { e164: number, provider: "twilio", agentId: agent.body.id },
  });
  expect(phone.status).toBe(201);
  const consent = await api<{ id: string }>("POST", "/v1/consent", {
    key,
    body: { phoneNumber: "+4915112345678", type: "service", verificationMethod: "checkbox" },
  });
  expect(consent.status).toBe(201);
  return { tenantId: made.body.account.id, key, agentId: agent.body.id, consentId: consent.body.id };
}

const unique = () => String(Date.now()).slice(-6) + String(Math.floor(Math.random() * 10));

describe("data residency of the tenant API", () => {
  it("runs against two separate databases", () => {
    // Without a second database the suite would prove nothing: both jurisdictions would share one.
    expect(EU_URL).not.toBe("");
    expect(EU_URL).not.toBe(env.DATABASE_URL);
  });

  it("keeps an EU tenant's account, agents, numbers and consent in the EU database and none in the US one", async () => {
    const eu = await tenantWithData("eu", `+4930${unique()}`);

    const inEu = await rowsIn(EU_URL, eu.tenantId);
    expect(inEu).toMatchObject({
      accounts: 1,
      users: 1,
      api_keys: 1,
      agents: 1,
      agent_versions: 1,
      phone_numbers: 1,
      phone_number_routes: 1,
      consent_records: 1,
    });
    expect(inEu.audit_log).toBeGreaterThanOrEqual(6);
    expect(await rowsIn(env.DATABASE_URL, eu.tenantId)).toEqual(nothing);

    // Its key keeps working, and what it reads comes from the EU database too.
    const me = await api<{ id: string; jurisdiction: string }>("GET", `/v1/accounts/${eu.tenantId}`, { key: eu.key });
    expect(me.status).toBe(200);
    expect(me.body.jurisdiction).toBe("eu");
    const agents = await api<{ data: Array<{ id: string }> }>("GET", "/v1/agents", { key: eu.key });
    expect(agents.body.data.map((a) => a.id)).toEqual([eu.agentId]);
  });

  it("lists and shows an EU tenant's calls from the EU database", async () => {
    const eu = await tenantWithData("eu", `+4930${unique()}`);
    // Call control writes calls to the jurisdiction's database (the CallLedger outbox); put one there directly.
    const callId = newResourceId("call");
    await withDatabase(EU_URL, async (db) => {
      await db.insert(calls).values({
        tenantId: eu.tenantId,
        id: callId,
        direction: "inbound",
        fromNumber: "+4915112345678",
        toNumber: "+4930123456",
        status: "completed",
      });
      await db.insert(callTurns).values({
        tenantId: eu.tenantId,
        id: newResourceId("turn"),
        callId,
        turnIndex: 0,
        speaker: "agent",
        text: "Guten Tag",
      });
    });

    const list = await api<{ data: Array<{ id: string }> }>("GET", "/v1/calls", { key: eu.key });
    expect(list.status).toBe(200);
    expect(list.body.data.map((c) => c.id)).toEqual([callId]);
    const one = await api<{ turns: Array<{ text: string }> }>("GET", `/v1/calls/${callId}`, { key: eu.key });
    expect(one.status).toBe(200);
    expect(one.body.turns.map((t) => t.text)).toEqual(["Guten Tag"]);
  });

  it("keeps a US tenant's data in the US database and none in the EU one", async () => {
    const us = await tenantWithData("us", `+1628${unique()}`);
    expect(await rowsIn(env.DATABASE_URL, us.tenantId)).toMatchObject({
      accounts: 1,
      users: 1,
      api_keys: 1,
      agents: 1,
      phone_numbers: 1,
      consent_records: 1,
    });
    expect(await rowsIn(EU_URL, us.tenantId)).toEqual(nothing);
  });

  it("refuses a number another jurisdiction's tenant already has: one number rings one tenant", async () => {
    const number = `+1628${unique()}`;
    const us = await tenantWithData("us", number);
    const eu = await tenantWithData("eu", `+4930${unique()}`);
    const taken = await api<{ detail: string }>("POST", "/v1/phone-numbers", {
      key: eu.key,
      body: { e164: number, provider: "twilio" },
    });
    expect(taken.status).toBe(409);
    expect(taken.body.detail).toContain("already registered");
    expect(await rowsIn(EU_URL, eu.tenantId)).toMatchObject({ phone_numbers: 1, phone_number_routes: 1 });
    expect(await rowsIn(env.DATABASE_URL, us.tenantId)).toMatchObject({ phone_numbers: 1, phone_number_routes: 1 });
  });

  it("still answers 404 for another tenant's IDs across jurisdictions, and writes nothing", async () => {
    const eu = await tenantWithData("eu", `+4930${unique()}`);
    const us = await tenantWithData("us", `+1628${unique()}`);
    const before = { eu: await rowsIn(EU_URL, eu.tenantId), us: await rowsIn(env.DATABASE_URL, us.tenantId) };

    for (const [asker, owner] of [
      [us, eu],
      [eu, us],
    ] as const) {
      expect((await api("GET", `/v1/agents/${owner.agentId}`, { key: asker.key })).status).toBe(404);
      expect((await api("GET", `/v1/consent/${owner.consentId}`, { key: asker.key })).status).toBe(404);
      expect((await api("GET", `/v1/accounts/${owner.tenantId}`, { key: asker.key })).status).toBe(404);
      const revoke = await api("POST", `/v1/consent/${owner.consentId}/revoke`, { key: asker.key });
      expect(revoke.status).toBe(404);
    }
    expect(await rowsIn(EU_URL, eu.tenantId)).toEqual(before.eu);
    expect(await rowsIn(env.DATABASE_URL, us.tenantId)).toEqual(before.us);
  });

  it("rejects a wrong secret for an EU account, and a key of an account in neither database", async () => {
    const eu = await tenantWithData("eu", `+4930${unique()}`);
    const tail = eu.key.slice(-4) === "0000" ? "1111" : "0000";
    const wrongSecret = `${eu.key.slice(0, -4)}${tail}`;
    expect((await api("GET", "/v1/agents", { key: wrongSecret })).status).toBe(401);
    const nowhere = `sk_${newAccountId()}_${"ab".repeat(32)}`;
    expect((await api("GET", "/v1/agents", { key: nowhere })).status).toBe(401);
    // The right key still works after those misses.
    expect((await api("GET", "/v1/agents", { key: eu.key })).status).toBe(200);
  });

  it("lets an EU support line verify a US customer: lookups across databases still ask the US one", async () => {
    // The support account (SUPPORT_TENANT_IDS) homed in the EU: its requests run on the EU database, and
    // finding the customer must still reach the US database.
    const supportId = accountIdFromData("SPPQRT23456");
    const minted = await mintApiKey(supportId);
    await withDatabase(EU_URL, async (db) => {
      await db
        .insert(accounts)
        .values({ id: supportId, name: "Support (EU)", jurisdiction: "eu" })
        .onConflictDoNothing();
      await db.insert(apiKeys).values({
        tenantId: supportId,
        id: newResourceId("key"),
        name: "support agent",
        prefix: minted.prefix,
        keyHash: minted.hash,
        scopes: ["*"],
      });
    });
    const line = await api("POST", "/v1/phone-numbers", {
      key: minted.key,
      body: { e164: `+4930${unique()}`, provider: "twilio" },
    });
    expect(line.status).toBe(201);
    const customer = await api<SignedUp>("POST", "/v1/accounts", {
      body: { name: "US customer", email: `${crypto.randomUUID()}@example.com`, ownerPhone: "+14155550172" },
    });
    expect(customer.status).toBe(201);

    const carriers = fakeCarriers();
    try {
      const started = await api<{ id: string; sentTo: string }>("POST", "/v1/verify", {
        key: minted.key,
        body: { accountId: customer.body.account.id },
      });
      expect(started.status).toBe(201);
      expect(started.body.sentTo).toBe("+1••••••0172");
      expect(carriers.requests.filter((r) => r.host === "twilio")).toHaveLength(1);
      // The support line's own record of it is with the support line's data, in the EU.
      const kept = await withDatabase(EU_URL, (db) =>
        db
          .select({ id: verifications.id })
          .from(verifications)
          .where(and(eq(verifications.tenantId, supportId), eq(verifications.id, started.body.id))),
      );
      expect(kept).toHaveLength(1);
    } finally {
      carriers.restore();
    }
  });
});
