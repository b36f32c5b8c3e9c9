// API key format: `sk_<account ID>_<64 hex>`, e.g. `sk_AYB-K3M2-9PX4-7TNW_9f86d0…`.
// The account ID inside lets the lookup go straight to the tenant's rows (one shard on Citus) and lets a
// mistyped key fail on the ID's check character before any query. Only a SHA-256 of the whole key is stored;
// the prefix (account ID plus the first 8 hex of the secret) is kept for listings.

import { randomHex, sha256Hex } from "./crypto.ts";
import { type AccountId, isAccountId } from "./ids.ts";

const KEY_PATTERN = /^sk_(AYB-[A-Z0-9-]+)_([0-9a-f]{64})$/;
const PREFIX_SECRET_CHARS = 8;

export type MintedKey = { key: string; prefix: string; hash: string };

export async function mintApiKey(tenantId: AccountId): Promise<MintedKey> {
  const secret = randomHex(32);
  const key = `sk_${tenantId}_${secret}`;
  return { key, prefix: `sk_${tenantId}_${secret.slice(0, PREFIX_SECRET_CHARS)}`, hash: await sha256Hex(key) };
}

/** The tenant and hash of a presented key, or null when it cannot be one of ours (401 without a query). */
export async function readApiKey(presented: string): Promise<{ tenantId: AccountId; hash: string } | null> {
  const m = KEY_PATTERN.exec(presented);
  const tenantId = m?.[1];
  if (!tenantId || !isAccountId(tenantId)) return null;
  return { tenantId, hash: await sha256Hex(presented) };
}
