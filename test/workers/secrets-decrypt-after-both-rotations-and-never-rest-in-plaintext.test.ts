// Per-tenant secrets under envelope encryption, through the real API and the real database: every kind of secret a
// tenant has (webhook signing, tool signing, its own Twilio account, a generic credential) still decrypts to what was
// stored after a KEK rotation (data keys re-wrapped, no secret re-encrypted) and after a data-key rotation (secrets
// re-encrypted, the old key decrypting until the job ends, then gone); and no table holds any of them in plaintext.
import { env } from "cloudflare:workers";
import { and, eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { auditLog, secretDecryptions, tenantDataKeys, tenantSecrets } from "../../workers/src/db/schema.ts";
import type { Db } from "../../workers/src/db/types.ts";
import { activeDataKey, forgetUnwrappedKeys } from "../../workers/src/secrets/data-keys.ts";
import { keyring } from "../../workers/src/secrets/kek.ts";
import {
  continueDataKeyRotations,
  rewrapDataKeys,
  rotateAgedDataKeys,
  rotateTenantDataKey,
} from "../../workers/src/secrets/rotation.ts";
import { SecretKek } from "../../workers/src/secrets/secret-kek.ts";
import { revealSecret } from "../../workers/src/secrets/vault.ts";
import { call, signUp, type Tenant, withDb } from "./helpers.ts";

const bindings = env as unknown as { SECRETS_KEKS: string; TEST_KEK_ALT: string };
const testKek = new SecretKek("test", (JSON.parse(bindings.SECRETS_KEKS) as { test: string }).test);
const altKek = new SecretKek("alt", bindings.TEST_KEK_ALT);
const TWILIO = { accountSid: `AC${"4b".repeat(16)}`, authToken: "9f".repeat(16) };
const GENERIC = "crm-api-token-7d1c0a55e2b94f6c";

let tenant: Tenant;
/** secret ID → the plaintext the tenant stored or was shown once. */
const expected = new Map<string, string>();

async function secretIds(db: Db, tenantId: string): Promise<{ id: string; dataKeyId: string }[]> {
  return db
    .select({ id: tenantSecrets.id, dataKeyId: tenantSecrets.dataKeyId })
    .from(tenantSecrets)
    .where(eq(tenantSecrets.tenantId, tenantId));
}

async function everySecretDecrypts(ring: ReturnType<typeof keyring>): Promise<void> {
  await withDb(async (db) => {
    for (const [id, plaintext] of expected) {
      expect(await revealSecret({ db, ring }, tenant.accountId, id, "test.check"), id).toBe(plaintext);
    }
  });
}

beforeAll(async () => {
  tenant = await signUp("Envelope Co");
  // Sent with an Idempotency-Key: the response stored for replays must not keep the secret either.
  const endpoint = await call<{ id: string; secret: string }>("POST", "/v1/webhook-endpoints", {
    key: tenant.key,
    body: { url: "https://crm.example/hooks" },
    headers: { "idempotency-key": `create-${crypto.randomUUID()}` },
  });
  expect(endpoint.status).toBe(201);
  const rotated = await call<{ id: string; secret: string }>(
    "POST",
    `/v1/webhook-endpoints/${endpoint.body.id}/rotate-secret`,
    { key: tenant.key, headers: { "idempotency-key": `rotate-${crypto.randomUUID()}` } },
  );
  expect(rotated.status).toBe(200);
  const tool = await call<{ secret: string }>("POST", "/v1/tool-signing-secret/rotate", { key: tenant.key });
  expect(tool.status).toBe(200);
  const twilio = await call<{ id: string }>("POST", "/v1/secrets", {
    key: tenant.key,
    body: { kind: "twilio", name: "our Twilio", value: TWILIO },
  });
  const generic = await call<{ id: string; prefix: string }>("POST", "/v1/secrets", {
    key: tenant.key,
    body: { kind: "generic", name: "CRM", value: GENERIC },
  });
  expect([twilio.status, generic.status]).toEqual([201, 201]);
  // The API shows a prefix, never the value.
  expect(generic.body.prefix).toBe("crm-…");
  expect(JSON.stringify((await call("GET", "/v1/secrets", { key: tenant.key })).body)).not.toContain(GENERIC);

  const values = [endpoint.body.secret, rotated.body.secret, tool.body.secret, JSON.stringify(TWILIO), GENERIC];
  await withDb(async (db) => {
    const ring = keyring(testKek);
    for (const row of await secretIds(db, tenant.accountId)) {
      const value = await revealSecret({ db, ring }, tenant.accountId, row.id, "test.setup");
      if (value !== undefined) expected.set(row.id, value);
    }
  });
  // Every value shown or stored is one of the tenant's secrets (the old endpoint secret still signs for a day).
  expect([...expected.values()].sort()).toEqual([...values].sort());
});

describe("tenant secrets", () => {
  it("survive a KEK rotation: every data key is re-wrapped, no secret is re-encrypted", async () => {
    const before = await withDb((db) =>
      db.select().from(tenantSecrets).where(eq(tenantSecrets.tenantId, tenant.accountId)),
    );
    // The new KEK wraps; the old one is still configured until the job reports nothing left.
    const report = await withDb((db) => rewrapDataKeys({ db, ring: keyring(altKek, [testKek]) }, { limit: 10_000 }));
    expect(report.remaining).toBe(0);
    const keys = await withDb((db) =>
      db.select().from(tenantDataKeys).where(eq(tenantDataKeys.tenantId, tenant.accountId)),
    );
    expect(keys.map((k) => k.kekId)).toEqual(["secret:alt"]);
    const after = await withDb((db) =>
      db.select().from(tenantSecrets).where(eq(tenantSecrets.tenantId, tenant.accountId)),
    );
    expect(after.map((s) => s.ciphertext).sort()).toEqual(before.map((s) => s.ciphertext).sort());
    // The re-wrapped key opens with the new KEK only, and the new KEK alone is enough to read every secret.
    const [wrapped] = keys;
    if (!wrapped?.wrappedKey) throw new Error("no wrapped key");
    expect((await altKek.unwrap(wrapped.wrappedKey, tenant.accountId)).byteLength).toBe(32);
    await expect(testKek.unwrap(wrapped.wrappedKey, tenant.accountId)).rejects.toThrow();
    // Nor does it open under another tenant's name.
    await expect(altKek.unwrap(wrapped.wrappedKey, "AYB-OTHER")).rejects.toThrow();
    forgetUnwrappedKeys();
    await everySecretDecrypts(keyring(altKek));
    // Put it back for the other suites sharing this database.
    await withDb((db) => rewrapDataKeys({ db, ring: keyring(testKek, [altKek]) }, { limit: 10_000 }));
    forgetUnwrappedKeys();
  });

  it("survive a data-key rotation, the old key decrypting until the job has finished", async () => {
    const ring = keyring(testKek);
    const oldKey = await withDb((db) => activeDataKey(db, ring, tenant.accountId));
    forgetUnwrappedKeys();
    // The job's first step alone (as if it stopped there): a new active key, the old one retiring.
    await withDb(async (db) => {
      await db
        .update(tenantDataKeys)
        .set({ status: "retiring" })
        .where(and(eq(tenantDataKeys.tenantId, tenant.accountId), eq(tenantDataKeys.id, oldKey.id)));
      await activeDataKey(db, ring, tenant.accountId);
    });
    await everySecretDecrypts(ring);
    // A secret stored meanwhile goes under the new key.
    const late = await call<{ id: string }>("POST", "/v1/secrets", {
      key: tenant.key,
      body: { kind: "generic", name: "late", value: "stored-during-the-rotation-42" },
    });
    expected.set(late.body.id, "stored-during-the-rotation-42");

    const resumed = await withDb((db) => continueDataKeyRotations({ db, ring }, { limit: 10_000 }));
    expect(resumed.reencrypted).toBeGreaterThanOrEqual(expected.size - 1);
    const keys = await withDb((db) =>
      db.select().from(tenantDataKeys).where(eq(tenantDataKeys.tenantId, tenant.accountId)),
    );
    const retired = keys.find((k) => k.id === oldKey.id);
    expect(retired).toMatchObject({ status: "retired", wrappedKey: null, kekId: null });
    const active = keys.find((k) => k.status === "active");
    const rows = await withDb((db) => secretIds(db, tenant.accountId));
    expect(new Set(rows.map((r) => r.dataKeyId))).toEqual(new Set([active?.id]));
    await everySecretDecrypts(ring);

    // And once more, in one call.
    const again = await withDb((db) => rotateTenantDataKey({ db, ring }, tenant.accountId));
    expect(again.reencrypted).toBe(expected.size);
    await everySecretDecrypts(ring);

    // Regular rotation: the scheduled maintenance rotates a key that has reached its age, and only then.
    const current = () => withDb(async (db) => (await activeDataKey(db, ring, tenant.accountId)).id);
    const before = await current();
    await withDb((db) => rotateAgedDataKeys({ db, ring }, { maxAgeDays: 90, limit: 10_000 }));
    expect(await current()).toBe(before);
    await withDb((db) =>
      db
        .update(tenantDataKeys)
        .set({ createdAt: new Date(Date.now() - 91 * 86_400_000) })
        .where(and(eq(tenantDataKeys.tenantId, tenant.accountId), eq(tenantDataKeys.id, before))),
    );
    await withDb((db) => rotateAgedDataKeys({ db, ring }, { maxAgeDays: 90, limit: 10_000 }));
    expect(await current()).not.toBe(before);
    await everySecretDecrypts(ring);
  });

  it("audits decryptions once per minute, secret and purpose, with a count", async () => {
    const [id] = [...expected.keys()];
    if (!id) throw new Error("no secret");
    await withDb(async (db) => {
      const ring = keyring(testKek);
      for (let i = 0; i < 3; i++) await revealSecret({ db, ring }, tenant.accountId, id, "test.audit");
      const counts = await db
        .select()
        .from(secretDecryptions)
        .where(and(eq(secretDecryptions.tenantId, tenant.accountId), eq(secretDecryptions.purpose, "test.audit")));
      expect(counts.reduce((n, r) => n + r.count, 0)).toBe(3);
      const audited = await db
        .select()
        .from(auditLog)
        .where(
          and(
            eq(auditLog.tenantId, tenant.accountId),
            eq(auditLog.action, "secret.decrypt"),
            eq(auditLog.actorId, "test.audit"),
          ),
        );
      // One entry per minute the secret was used (the three reads may straddle a minute boundary).
      expect(audited.length).toBe(counts.length);
      expect(audited.every((a) => a.targetId === id && a.actorType === "system")).toBe(true);
    });
  });

  it("are nowhere in the database in plaintext (every table's text scanned)", async () => {
    const needles = [...expected.values()].flatMap((v) => {
      const parts = [v];
      // Secrets in structured form: each credential on its own, and the key bytes of a `whsec_` secret.
      if (v.startsWith("{"))
        parts.push(...Object.values(JSON.parse(v) as Record<string, string>).filter((x) => x.length >= 32));
      if (v.startsWith("whsec_")) parts.push(v.slice("whsec_".length));
      if (v.startsWith("tss_")) parts.push(v.slice("tss_".length));
      return parts;
    });
    const found = await withDb(async (db) => {
      const { rows: tables } = (await db.execute(
        sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`,
      )) as unknown as { rows: { table_name: string }[] };
      expect(tables.length).toBeGreaterThan(15);
      const hits: string[] = [];
      for (const { table_name } of tables) {
        const { rows } = (await db.execute(
          sql`select t::text as row from ${sql.identifier(table_name)} t`,
        )) as unknown as { rows: { row: string }[] };
        for (const { row } of rows) for (const needle of needles) if (row.includes(needle)) hits.push(table_name);
      }
      return hits;
    });
    expect(needles.length).toBeGreaterThanOrEqual(8);
    expect(found).toEqual([]);
    // The scan does read rows: the tenant's name is found where it is stored.
    const control = await withDb(async (db) => {
      const { rows } = (await db.execute(sql`select t::text as row from accounts t`)) as unknown as {
        rows: { row: string }[];
      };
      return rows.some((r) => r.row.includes("Envelope Co"));
    });
    expect(control).toBe(true);
  });
});
