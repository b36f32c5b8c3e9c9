// Test helpers for the Worker suites: requests go through the real Worker entry (exports.default.fetch), and
// direct database access goes through the same Neon driver and proxy the Worker uses.
import { env, exports } from "cloudflare:workers";
import { eq, sql } from "drizzle-orm";
import { openDb } from "../../workers/src/db/client.ts";
import { auditLog, calls, callTurns } from "../../workers/src/db/schema.ts";
import type { Db } from "../../workers/src/db/types.ts";
import { newResourceId } from "../../workers/src/lib/ids.ts";

export type Json = Record<string, unknown>;
export type Reply<T = Json> = { status: number; headers: Headers; body: T };

export async function call<T = Json>(
  method: string,
  path: string,
  { key, body, headers = {} }: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Reply<T>> {
  const init: RequestInit = { method, headers: { ...headers } };
  const h = init.headers as Record<string, string>;
  if (key) h.authorization = `Bearer ${key}`;
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    h["content-type"] ??= "application/json";
  }
  const res = await exports.default.fetch(`http://edge.test${path}`, init);
  const text = await res.text();
  const parsed = text && /json/.test(res.headers.get("content-type") ?? "") ? JSON.parse(text) : text;
  return { status: res.status, headers: res.headers, body: parsed as T };
}

export type Tenant = { accountId: string; userId: string; key: string; keyId: string };

let counter = 0;
export async function signUp(name = "Acme"): Promise<Tenant> {
  counter += 1;
  const r = await call<{ account: { id: string }; user: { id: string }; apiKey: { id: string; key: string } }>(
    "POST",
    "/v1/accounts",
    { body: { name, email: `owner${counter}-${crypto.randomUUID()}@example.com` } },
  );
  if (r.status !== 201) throw new Error(`sign-up failed: ${r.status} ${JSON.stringify(r.body)}`);
  return { accountId: r.body.account.id, userId: r.body.user.id, key: r.body.apiKey.key, keyId: r.body.apiKey.id };
}

export async function keyWith(tenant: Tenant, scopes: string[]): Promise<string> {
  const r = await call<{ key: string }>("POST", "/v1/api-keys", {
    key: tenant.key,
    body: { name: `scoped ${scopes.join(" ")}`, scopes },
  });
  if (r.status !== 201) throw new Error(`key creation failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.key;
}

export async function createAgent(tenant: Tenant, body: Json = {}): Promise<Json & { id: string }> {
  const r = await call<Json & { id: string }>("POST", "/v1/agents", {
    key: tenant.key,
    body: { name: "Front desk", config: { systemPrompt: "You answer the phone for a dental office." }, ...body },
  });
  if (r.status !== 201) throw new Error(`agent creation failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Runs fn with a database handle on the Worker's database, closing it afterwards. */
export async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const { db, close } = openDb(env);
  try {
    return await fn(db);
  } finally {
    await close();
  }
}

export async function auditActions(tenantId: string): Promise<string[]> {
  return withDb(async (db) => {
    const rows = await db
      .select({ action: auditLog.action })
      .from(auditLog)
      .where(eq(auditLog.tenantId, tenantId))
      .orderBy(auditLog.at, auditLog.id);
    return rows.map((r) => r.action);
  });
}

/**
 * A digest of everything a tenant owns (every tenant-owned table, plus its number routes), to prove that a
 * request changed nothing. last_used_at is left out: using a key to make the request is not a write by it.
 */
export async function tenantFingerprint(tenantId: string, { omit = [] as string[] } = {}): Promise<string> {
  const all = [
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
    "idempotency_keys",
    "tenant_data_keys",
    "tenant_secrets",
    "secret_decryptions",
    "webhook_endpoints",
    "webhook_events",
    "webhook_deliveries",
    "webhook_attempts",
  ];
  const tables = all.filter((t) => !omit.includes(t));
  const row = "(to_jsonb(t) - 'last_used_at')::text";
  const digest = sql`count(*)::text as n, md5(coalesce(string_agg(${sql.raw(row)}, '|' order by ${sql.raw(row)}), '')) as digest`;
  const parts = [
    ...tables.map(
      (table) => sql`select ${table} as tbl, ${digest} from ${sql.identifier(table)} t where tenant_id = ${tenantId}`,
    ),
    // The account row itself (name, plan, calling hours) is keyed by its own ID.
    sql`select 'accounts' as tbl, ${digest} from accounts t where id = ${tenantId}`,
  ];
  return withDb(async (db) => {
    const { rows } = (await db.execute(sql.join(parts, sql` union all `))) as unknown as {
      rows: Array<{ tbl: string; n: string; digest: string }>;
    };
    return rows.map((x) => `${x.tbl}:${x.n}:${x.digest}`).join("\n");
  });
}

/** Calls are written by call control (a later issue); tests put them in the database directly. */
export async function seedCall(
  tenantId: string,
  overrides: Partial<typeof calls.$inferInsert> = {},
  turns: Array<Partial<typeof callTurns.$inferInsert>> = [],
): Promise<string> {
  const id = newResourceId("call");
  await withDb(async (db) => {
    await db.insert(calls).values({
      tenantId,
      id,
      direction: "inbound",
      fromNumber: "+14155550100",
      toNumber: "+14155550199",
      status: "completed",
      ...overrides,
    });
    for (const [i, t] of turns.entries()) {
      await db.insert(callTurns).values({
        tenantId,
        id: newResourceId("turn"),
        callId: id,
        turnIndex: i,
        speaker: i % 2 === 0 ? "agent" : "caller",
        text: `turn ${i}`,
        ...t,
      });
    }
  });
  return id;
}

export async function countRows(table: "agents" | "agent_versions" | "consent_records", tenantId: string) {
  return withDb(async (db) => {
    const { rows } = (await db.execute(
      sql`select count(*)::text as n from ${sql.identifier(table)} where tenant_id = ${tenantId}`,
    )) as unknown as { rows: Array<{ n: string }> };
    return Number(rows[0]?.n ?? 0);
  });
}
