// A tenant's secrets under envelope encryption: each value is sealed with the tenant's active data key, which is
// stored only wrapped by the KEK (data-keys.ts, kek.ts). Plaintext exists only in memory, never in a row or a log.
// Every decryption is counted per minute, and the first of each minute writes an audit entry, so a tenant can see
// when and why its secrets were used without an audit row per webhook.
import { and, eq, sql } from "drizzle-orm";
import { type SecretKind, secretDecryptions, tenantDataKeys, tenantSecrets } from "../db/schema.ts";
import type { Db } from "../db/types.ts";
import { writeAudit } from "../lib/audit.ts";
import { newResourceId } from "../lib/ids.ts";
import { activeDataKey, dataKeyOf, open, seal } from "./data-keys.ts";
import type { Keyring } from "./kek.ts";

export type SecretRow = typeof tenantSecrets.$inferSelect;

export interface Vault {
  db: Db;
  ring: Keyring;
}

const aadOf = (tenantId: string, secretId: string) => `aybiza-secret:${tenantId}:${secretId}`;

/** Stores a new secret and returns its row (never the value). */
export async function storeSecret(
  vault: Vault,
  tenantId: string,
  input: { kind: SecretKind; name: string; value: string; prefix: string; id?: string },
): Promise<SecretRow> {
  const dataKey = await activeDataKey(vault.db, vault.ring, tenantId);
  const id = input.id ?? newResourceId("sec");
  const ciphertext = await seal(await dataKeyOf(vault.ring, dataKey), input.value, aadOf(tenantId, id));
  const [row] = await vault.db
    .insert(tenantSecrets)
    .values({
      tenantId,
      id,
      kind: input.kind,
      name: input.name,
      prefix: input.prefix,
      dataKeyId: dataKey.id,
      ciphertext,
    })
    .returning();
  if (!row) throw new Error("insert returned no row");
  return row;
}

/** Replaces a secret's value in place (same ID), under the tenant's active data key. */
export async function replaceSecretValue(
  vault: Vault,
  tenantId: string,
  secretId: string,
  value: string,
  prefix: string,
): Promise<SecretRow | undefined> {
  const dataKey = await activeDataKey(vault.db, vault.ring, tenantId);
  const ciphertext = await seal(await dataKeyOf(vault.ring, dataKey), value, aadOf(tenantId, secretId));
  const [row] = await vault.db
    .update(tenantSecrets)
    .set({ dataKeyId: dataKey.id, ciphertext, prefix })
    .where(and(eq(tenantSecrets.tenantId, tenantId), eq(tenantSecrets.id, secretId)))
    .returning();
  return row;
}

/**
 * Decrypts one secret of the tenant and counts it (audited per minute). `purpose` says why, e.g. `webhook.sign`;
 * it is what the audit entry's actor shows. Undefined when there is no such secret.
 */
export async function revealSecret(
  vault: Vault,
  tenantId: string,
  secretId: string,
  purpose: string,
): Promise<string | undefined> {
  // Secret and key in one statement: a rotation finishing in between cannot hand us a row whose key it just retired.
  const [row] = await vault.db
    .select({
      ciphertext: tenantSecrets.ciphertext,
      dataKeyId: tenantDataKeys.id,
      kekId: tenantDataKeys.kekId,
      wrappedKey: tenantDataKeys.wrappedKey,
    })
    .from(tenantSecrets)
    .innerJoin(
      tenantDataKeys,
      and(eq(tenantDataKeys.tenantId, tenantSecrets.tenantId), eq(tenantDataKeys.id, tenantSecrets.dataKeyId)),
    )
    .where(and(eq(tenantSecrets.tenantId, tenantId), eq(tenantSecrets.id, secretId)));
  if (!row) return undefined;
  const key = await dataKeyOf(vault.ring, {
    tenantId,
    id: row.dataKeyId,
    kekId: row.kekId,
    wrappedKey: row.wrappedKey,
  });
  const value = await open(key, row.ciphertext, aadOf(tenantId, secretId));
  await recordDecryption(vault.db, tenantId, secretId, purpose);
  return value;
}

/** One more decryption this minute; the minute's first also goes to the audit log. */
export async function recordDecryption(db: Db, tenantId: string, secretId: string, purpose: string): Promise<void> {
  const [counted] = await db
    .insert(secretDecryptions)
    .values({ tenantId, secretId, purpose, minute: sql`date_trunc('minute', now())` })
    .onConflictDoUpdate({
      target: [
        secretDecryptions.tenantId,
        secretDecryptions.secretId,
        secretDecryptions.minute,
        secretDecryptions.purpose,
      ],
      set: { count: sql`${secretDecryptions.count} + 1` },
    })
    .returning({ count: secretDecryptions.count });
  if (counted?.count === 1) {
    await writeAudit(
      db,
      { tenantId, type: "system", id: purpose },
      { action: "secret.decrypt", targetType: "secret", targetId: secretId },
    );
  }
}

export async function deleteSecret(db: Db, tenantId: string, secretId: string): Promise<void> {
  await db.delete(tenantSecrets).where(and(eq(tenantSecrets.tenantId, tenantId), eq(tenantSecrets.id, secretId)));
}

/** `whsec_` + 32 random bytes in base64 (the Standard Webhooks secret format), or a hex token with `prefix`. */
export function generateSecret(kind: "webhook" | "tool"): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  if (kind === "webhook") {
    let binary = "";
    for (const b of bytes) binary += String.fromCharCode(b);
    return `whsec_${btoa(binary)}`;
  }
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return `tss_${hex}`;
}

/** What listings show of a generated secret: its scheme and the first 8 characters after it. */
export function displayPrefix(secret: string): string {
  const underscore = secret.indexOf("_");
  return `${secret.slice(0, underscore + 1 + 8)}…`;
}
