// The two key rotations.
// - KEK rotation: configure the new KEK as SECRETS_KEK (keeping the old one in the keyring), then `rewrapDataKeys`
//   re-wraps every data key still wrapped by another KEK. No secret is re-encrypted: only the 32-byte data keys move.
//   Once it reports nothing left, the old KEK can be removed.
// - Data-key rotation: `rotateTenantDataKey` makes a new active key, marks the old one `retiring` (it still
//   decrypts), re-encrypts each of the tenant's secrets under the new key, and retires the old key (its wrapped bytes
//   are deleted) only when no secret uses it any more. The job is resumable: `continueDataKeyRotations` finishes any
//   that stopped half-way (the scheduled handler runs it).
import { and, eq, inArray, ne, sql } from "drizzle-orm";
import { tenantDataKeys, tenantSecrets } from "../db/schema.ts";
import type { Db } from "../db/types.ts";
import { activeDataKey, dataKeyOf, open, seal } from "./data-keys.ts";
import type { Keyring } from "./kek.ts";
import type { Vault } from "./vault.ts";

/** Re-wraps up to `limit` data keys not wrapped by the current KEK. Returns how many it did and how many remain. */
export async function rewrapDataKeys(vault: Vault, { limit = 200 }: { limit?: number } = {}) {
  const { db, ring } = vault;
  const stale = await db
    .select()
    .from(tenantDataKeys)
    .where(and(ne(tenantDataKeys.status, "retired"), ne(tenantDataKeys.kekId, ring.current.id)))
    .limit(limit);
  let rewrapped = 0;
  for (const row of stale) {
    if (!row.kekId || !row.wrappedKey) continue;
    const old = ring.byId(row.kekId);
    if (!old) throw new Error(`data key ${row.id} is wrapped by ${row.kekId}, which is not in the keyring`);
    const raw = await old.unwrap(row.wrappedKey, row.tenantId);
    const wrappedKey = await ring.current.wrap(raw, row.tenantId);
    raw.fill(0);
    // Only if nobody re-wrapped it meanwhile (two runs overlapping do each key once).
    const done = await db
      .update(tenantDataKeys)
      .set({ kekId: ring.current.id, wrappedKey, rewrappedAt: new Date() })
      .where(
        and(
          eq(tenantDataKeys.tenantId, row.tenantId),
          eq(tenantDataKeys.id, row.id),
          eq(tenantDataKeys.kekId, row.kekId),
        ),
      )
      .returning({ id: tenantDataKeys.id });
    rewrapped += done.length;
  }
  const [left] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(tenantDataKeys)
    .where(and(ne(tenantDataKeys.status, "retired"), ne(tenantDataKeys.kekId, ring.current.id)));
  return { rewrapped, remaining: left?.n ?? 0 };
}

/** Starts a data-key rotation for the tenant and runs it to the end. */
export async function rotateTenantDataKey(vault: Vault, tenantId: string) {
  const { db, ring } = vault;
  await db
    .update(tenantDataKeys)
    .set({ status: "retiring" })
    .where(and(eq(tenantDataKeys.tenantId, tenantId), eq(tenantDataKeys.status, "active")));
  const fresh = await activeDataKey(db, ring, tenantId);
  const result = await finishRotation(vault, tenantId);
  return { dataKeyId: fresh.id, ...result };
}

/** Finishes every tenant's interrupted rotation (up to `limit` tenants per run). */
export async function continueDataKeyRotations(vault: Vault, { limit = 50 }: { limit?: number } = {}) {
  const tenants = await vault.db
    .selectDistinct({ tenantId: tenantDataKeys.tenantId })
    .from(tenantDataKeys)
    .where(eq(tenantDataKeys.status, "retiring"))
    .limit(limit);
  let reencrypted = 0;
  for (const { tenantId } of tenants) reencrypted += (await finishRotation(vault, tenantId)).reencrypted;
  return { tenants: tenants.length, reencrypted };
}

async function finishRotation(vault: Vault, tenantId: string): Promise<{ reencrypted: number; retired: number }> {
  const { db, ring } = vault;
  const retiring = await db
    .select()
    .from(tenantDataKeys)
    .where(and(eq(tenantDataKeys.tenantId, tenantId), eq(tenantDataKeys.status, "retiring")));
  if (retiring.length === 0) return { reencrypted: 0, retired: 0 };
  const active = await activeDataKey(db, ring, tenantId);
  const newKey = await dataKeyOf(ring, active);
  let reencrypted = 0;
  for (const old of retiring) {
    const oldKey = await dataKeyOf(ring, old);
    const secrets = await db
      .select({ id: tenantSecrets.id, ciphertext: tenantSecrets.ciphertext })
      .from(tenantSecrets)
      .where(and(eq(tenantSecrets.tenantId, tenantId), eq(tenantSecrets.dataKeyId, old.id)));
    for (const secret of secrets) {
      const aad = `aybiza-secret:${tenantId}:${secret.id}`;
      const ciphertext = await seal(newKey, await open(oldKey, secret.ciphertext, aad), aad);
      // Only if the row still is what we read: a secret replaced meanwhile is already under the new key.
      const moved = await db
        .update(tenantSecrets)
        .set({ dataKeyId: active.id, ciphertext })
        .where(
          and(
            eq(tenantSecrets.tenantId, tenantId),
            eq(tenantSecrets.id, secret.id),
            eq(tenantSecrets.dataKeyId, old.id),
            eq(tenantSecrets.ciphertext, secret.ciphertext),
          ),
        )
        .returning({ id: tenantSecrets.id });
      reencrypted += moved.length;
    }
  }
  // A retiring key is retired only when no secret points at it any more.
  const stillUsed = await db
    .selectDistinct({ id: tenantSecrets.dataKeyId })
    .from(tenantSecrets)
    .where(
      and(
        eq(tenantSecrets.tenantId, tenantId),
        inArray(
          tenantSecrets.dataKeyId,
          retiring.map((k) => k.id),
        ),
      ),
    );
  const used = new Set(stillUsed.map((r) => r.id));
  const done = retiring.filter((k) => !used.has(k.id)).map((k) => k.id);
  if (done.length > 0) {
    await db
      .update(tenantDataKeys)
      .set({ status: "retired", kekId: null, wrappedKey: null, retiredAt: new Date() })
      .where(and(eq(tenantDataKeys.tenantId, tenantId), inArray(tenantDataKeys.id, done)));
  }
  return { reencrypted, retired: done.length };
}

/** Rotates the data keys of up to `limit` tenants whose active key is older than `maxAgeDays`. */
export async function rotateAgedDataKeys(vault: Vault, { maxAgeDays = 90, limit = 20 } = {}) {
  const aged = await vault.db
    .select({ tenantId: tenantDataKeys.tenantId })
    .from(tenantDataKeys)
    .where(
      and(
        eq(tenantDataKeys.status, "active"),
        sql`${tenantDataKeys.createdAt} < now() - make_interval(days => ${maxAgeDays})`,
      ),
    )
    .limit(limit);
  for (const { tenantId } of aged) await rotateTenantDataKey(vault, tenantId);
  return { rotated: aged.length };
}

/**
 * Every maintenance step on one database (the scheduled handler runs it per database): re-wrap after a KEK rotation,
 * finish interrupted data-key rotations, and rotate data keys that reached `dataKeyMaxAgeDays` (regular rotation).
 */
export async function keyMaintenance(db: Db, ring: Keyring, { dataKeyMaxAgeDays = 90 } = {}) {
  const vault = { db, ring };
  const rewrap = await rewrapDataKeys(vault);
  const rotations = await continueDataKeyRotations(vault);
  const aged = await rotateAgedDataKeys(vault, { maxAgeDays: dataKeyMaxAgeDays });
  return { rewrap, rotations, aged };
}
