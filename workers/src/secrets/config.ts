// The keyring from the Worker's bindings. Configuration, not code, picks the strategy:
//   SECRETS_KEK   which KEK wraps new data keys: `secret:<kid>` or `kms:<key ID or ARN>`
//   SECRETS_KEKS  JSON { "<kid>": "<base64 of 32 bytes>" }: Workers-secret KEKs, the current one and any older
//                 one that still wraps data keys (kept until the rotation job has re-wrapped them all)
//   KMS_REGION, KMS_ACCESS_KEY_ID, KMS_SECRET_ACCESS_KEY, KMS_SESSION_TOKEN, KMS_ENDPOINT   for `kms:` KEKs
// Any `kms:` id found on a stored data key is unwrapped with the same credentials (KMS Decrypt needs no key id
// for symmetric keys, but we pass it so a key from another account is refused).
import { type KeyEncryptionKey, type Keyring, KeyringError } from "./kek.ts";
import { KmsKek } from "./kms-kek.ts";
import { SecretKek } from "./secret-kek.ts";

export interface SecretsBindings {
  SECRETS_KEK?: string | undefined;
  SECRETS_KEKS?: string | undefined;
  KMS_REGION?: string | undefined;
  KMS_ACCESS_KEY_ID?: string | undefined;
  KMS_SECRET_ACCESS_KEY?: string | undefined;
  KMS_SESSION_TOKEN?: string | undefined;
  KMS_ENDPOINT?: string | undefined;
  /** Data keys older than this many days are rotated by the scheduled maintenance. Default 90. */
  DATA_KEY_MAX_AGE_DAYS?: string | undefined;
}

// The bindings of one isolate never change, so the parsed keyring (and its imported keys) is kept per string.
let cached: { key: string; ring: Keyring } | undefined;

/** The configured keyring; throws KeyringError naming what is missing (never a key value). */
export function keyringFrom(env: SecretsBindings): Keyring {
  const cacheKey = JSON.stringify([env.SECRETS_KEK, env.SECRETS_KEKS, env.KMS_REGION, env.KMS_ENDPOINT]);
  if (cached?.key === cacheKey) return cached.ring;
  const ring = build(env);
  cached = { key: cacheKey, ring };
  return ring;
}

function build(env: SecretsBindings): Keyring {
  const currentId = env.SECRETS_KEK?.trim();
  if (!currentId) throw new KeyringError("SECRETS_KEK is not set: tenant secrets cannot be stored or read");
  const secretKeks = new Map<string, SecretKek>();
  if (env.SECRETS_KEKS) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(env.SECRETS_KEKS);
    } catch {
      throw new KeyringError("SECRETS_KEKS is not JSON");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new KeyringError('SECRETS_KEKS must be a JSON object { "<kid>": "<base64 key>" }');
    for (const [kid, material] of Object.entries(parsed)) {
      if (typeof material !== "string") throw new KeyringError(`SECRETS_KEKS.${kid} must be a string`);
      const kek = new SecretKek(kid, material);
      secretKeks.set(kek.id, kek);
    }
  }
  const kms = new Map<string, KmsKek>();
  const kmsKek = (id: string): KmsKek | undefined => {
    if (!id.startsWith("kms:")) return undefined;
    const existing = kms.get(id);
    if (existing) return existing;
    if (!env.KMS_REGION || !env.KMS_ACCESS_KEY_ID || !env.KMS_SECRET_ACCESS_KEY) return undefined;
    const kek = new KmsKek({
      keyId: id.slice("kms:".length),
      region: env.KMS_REGION,
      accessKeyId: env.KMS_ACCESS_KEY_ID,
      secretAccessKey: env.KMS_SECRET_ACCESS_KEY,
      sessionToken: env.KMS_SESSION_TOKEN,
      endpoint: env.KMS_ENDPOINT,
    });
    kms.set(id, kek);
    return kek;
  };
  const byId = (id: string): KeyEncryptionKey | undefined => secretKeks.get(id) ?? kmsKek(id);
  const current = byId(currentId);
  if (!current) {
    throw new KeyringError(
      currentId.startsWith("kms:")
        ? "SECRETS_KEK names a KMS key, but KMS_REGION, KMS_ACCESS_KEY_ID and KMS_SECRET_ACCESS_KEY are not all set"
        : `SECRETS_KEK is ${currentId}, which is not in SECRETS_KEKS (ids look like secret:<kid> or kms:<key ARN>)`,
    );
  }
  return { current, byId };
}
