// A tenant's tool-signing secret: what media nodes sign the tenant's tool webhooks with (X-Aybiza-Signature), so a
// tenant verifies us with a secret no other tenant has. Created on first need, rotatable; after a rotation the
// replaced secret keeps signing beside the new one for a day (receivers accept any `v1=` signature).
import { and, desc, eq, gt, isNull, or } from "drizzle-orm";
import { tenantSecrets } from "../db/schema.ts";
import type { Db } from "../db/types.ts";
import { displayPrefix, generateSecret, revealSecret, type SecretRow, storeSecret, type Vault } from "./vault.ts";

export const TOOL_SECRET_OVERLAP_MS = 24 * 3_600_000;

/** The tenant's tool-signing secrets still valid, newest first (the current one, then one being rotated out). */
export async function validToolSecrets(db: Db, tenantId: string): Promise<SecretRow[]> {
  return db
    .select()
    .from(tenantSecrets)
    .where(
      and(
        eq(tenantSecrets.tenantId, tenantId),
        eq(tenantSecrets.kind, "tool_signing"),
        or(isNull(tenantSecrets.expiresAt), gt(tenantSecrets.expiresAt, new Date())),
      ),
    )
    .orderBy(desc(tenantSecrets.createdAt), desc(tenantSecrets.id));
}

/** Makes a new tool-signing secret; the current one (if any) signs beside it for a day. Returns the new value. */
export async function rotateToolSecret(vault: Vault, tenantId: string): Promise<{ secret: string; row: SecretRow }> {
  const valid = await validToolSecrets(vault.db, tenantId);
  for (const old of valid) {
    // Only the newest keeps the overlap; anything older (a previous overlap) ends now.
    const expiresAt = old === valid[0] ? new Date(Date.now() + TOOL_SECRET_OVERLAP_MS) : new Date();
    if (old.expiresAt && old.expiresAt < expiresAt) continue;
    await vault.db
      .update(tenantSecrets)
      .set({ expiresAt })
      .where(and(eq(tenantSecrets.tenantId, tenantId), eq(tenantSecrets.id, old.id)));
  }
  const secret = generateSecret("tool");
  const row = await storeSecret(vault, tenantId, {
    kind: "tool_signing",
    name: "tool signing",
    value: secret,
    prefix: displayPrefix(secret),
  });
  return { secret, row };
}

/** The values to sign with (decrypted, audited as `tool.sign`); a tenant without one gets one. */
export async function toolSigningSecrets(vault: Vault, tenantId: string): Promise<string[]> {
  let valid = await validToolSecrets(vault.db, tenantId);
  if (valid.length === 0) {
    await rotateToolSecret(vault, tenantId);
    valid = await validToolSecrets(vault.db, tenantId);
  }
  const values: string[] = [];
  for (const row of valid) {
    const value = await revealSecret(vault, tenantId, row.id, "tool.sign");
    if (value) values.push(value);
  }
  return values;
}
