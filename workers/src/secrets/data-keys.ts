// Tenant data keys: AES-256-GCM keys (WebCrypto), one active per tenant, stored only wrapped by a KEK. Unwrapped keys
// are kept per isolate as non-extractable CryptoKeys: a data key's bytes never change (a KEK rotation re-wraps the
// same bytes), and unwrapping through KMS on every secret read would put a KMS round trip on every webhook.
import { and, eq } from "drizzle-orm";
import { tenantDataKeys } from "../db/schema.ts";
import type { Db } from "../db/types.ts";
import { newResourceId } from "../lib/ids.ts";
import { type Keyring, KeyringError } from "./kek.ts";

export type DataKeyRow = typeof tenantDataKeys.$inferSelect;

const MAX_CACHED_KEYS = 1_000;
const unwrapped = new Map<string, Promise<CryptoKey>>();

/** Forgets every unwrapped key of this isolate (tests that must see an unwrap happen). */
export function forgetUnwrappedKeys(): void {
  unwrapped.clear();
}

/** The tenant's active data key, created (and wrapped by the current KEK) on first use. */
export async function activeDataKey(db: Db, ring: Keyring, tenantId: string): Promise<DataKeyRow> {
  const found = await selectActive(db, tenantId);
  if (found) return found;
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const id = newResourceId("dk");
  // Two first uses racing: the one-active-key index lets one insert win; the other reads the winner's key.
  await db
    .insert(tenantDataKeys)
    .values({
      tenantId,
      id,
      status: "active",
      kekId: ring.current.id,
      wrappedKey: await ring.current.wrap(raw, tenantId),
    })
    .onConflictDoNothing();
  const active = await selectActive(db, tenantId);
  if (!active) throw new Error("no active data key after creating one");
  return active;
}

async function selectActive(db: Db, tenantId: string): Promise<DataKeyRow | undefined> {
  const [row] = await db
    .select()
    .from(tenantDataKeys)
    .where(and(eq(tenantDataKeys.tenantId, tenantId), eq(tenantDataKeys.status, "active")));
  return row;
}

/** The usable key of a stored data key row (active or retiring). */
export function dataKeyOf(ring: Keyring, row: Pick<DataKeyRow, "tenantId" | "id" | "kekId" | "wrappedKey">) {
  const cacheKey = `${row.tenantId}/${row.id}`;
  const hit = unwrapped.get(cacheKey);
  if (hit) return hit;
  const { kekId, wrappedKey } = row;
  if (!kekId || !wrappedKey) return Promise.reject(new KeyringError(`data key ${row.id} is retired`));
  const kek = ring.byId(kekId);
  if (!kek)
    return Promise.reject(new KeyringError(`data key ${row.id} is wrapped by ${kekId}, which is not configured`));
  const pending = kek
    .unwrap(wrappedKey, row.tenantId)
    .then((raw) => crypto.subtle.importKey("raw", new Uint8Array(raw), "AES-GCM", false, ["encrypt", "decrypt"]));
  unwrapped.set(cacheKey, pending);
  pending.catch(() => unwrapped.delete(cacheKey));
  if (unwrapped.size > MAX_CACHED_KEYS) {
    const oldest = unwrapped.keys().next().value;
    if (oldest !== undefined) unwrapped.delete(oldest);
  }
  return pending;
}

const IV_BYTES = 12;
const VERSION = "v1.";

/** `v1.<base64(iv ‖ ciphertext)>`; `aad` binds it to its row (tenant and secret ID). */
export async function seal(key: CryptoKey, plaintext: string, aad: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(aad) },
    key,
    new TextEncoder().encode(plaintext),
  );
  const out = new Uint8Array(IV_BYTES + sealed.byteLength);
  out.set(iv);
  out.set(new Uint8Array(sealed), IV_BYTES);
  let binary = "";
  for (const b of out) binary += String.fromCharCode(b);
  return VERSION + btoa(binary);
}

export async function open(key: CryptoKey, ciphertext: string, aad: string): Promise<string> {
  if (!ciphertext.startsWith(VERSION)) throw new KeyringError("unknown ciphertext version");
  const binary = atob(ciphertext.slice(VERSION.length));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  const opened = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: bytes.subarray(0, IV_BYTES), additionalData: new TextEncoder().encode(aad) },
    key,
    bytes.subarray(IV_BYTES),
  );
  return new TextDecoder().decode(opened);
}
