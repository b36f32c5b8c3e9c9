// Per-tenant secrets under envelope encryption: data keys, secrets, and counted decryptions.
import { sql } from "drizzle-orm";
import { check, foreignKey, index, integer, pgTable, primaryKey, text, uniqueIndex } from "drizzle-orm/pg-core";
import { accounts } from "./accounts.ts";
import { createdAt, ts } from "./columns.ts";

// Per-tenant secrets under envelope encryption (workers/src/secrets/). Each tenant has data keys (AES-256-GCM), each
// stored only wrapped by a key-encryption key (a Workers secret or AWS KMS) named in `kek_id`; a tenant's secrets are
// stored only encrypted under one of its data keys. One data key per tenant is `active` (new secrets); a `retiring`
// one still decrypts while a rotation re-encrypts its secrets; a `retired` one has no wrapped key left.
export const DATA_KEY_STATUSES = ["active", "retiring", "retired"] as const;
export type DataKeyStatus = (typeof DATA_KEY_STATUSES)[number];

export const tenantDataKeys = pgTable(
  "tenant_data_keys",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => accounts.id),
    id: text("id").notNull(),
    status: text("status").notNull().$type<DataKeyStatus>(),
    // Which key-encryption key wrapped it (`secret:<kid>` or `kms:<key ARN>`); null once retired.
    kekId: text("kek_id"),
    wrappedKey: text("wrapped_key"),
    createdAt: createdAt(),
    rewrappedAt: ts("rewrapped_at"),
    retiredAt: ts("retired_at"),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    uniqueIndex("tenant_data_keys_one_active_key").on(t.tenantId).where(sql`${t.status} = 'active'`),
    check("tenant_data_keys_status_check", sql`${t.status} in ('active', 'retiring', 'retired')`),
  ],
);

export const SECRET_KINDS = ["webhook_signing", "tool_signing", "twilio", "generic"] as const;
export type SecretKind = (typeof SECRET_KINDS)[number];

export const tenantSecrets = pgTable(
  "tenant_secrets",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => accounts.id),
    id: text("id").notNull(),
    kind: text("kind").notNull().$type<SecretKind>(),
    name: text("name").notNull(),
    // The first characters, shown in listings so a person can tell secrets apart; the rest is never returned.
    prefix: text("prefix").notNull(),
    dataKeyId: text("data_key_id").notNull(),
    // `v1.<base64(iv ‖ AES-GCM ciphertext)>`, additional data = tenant and secret ID (a row copied elsewhere fails).
    ciphertext: text("ciphertext").notNull(),
    createdAt: createdAt(),
    // A signing secret replaced by a rotation keeps signing beside the new one until then.
    expiresAt: ts("expires_at"),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    index("tenant_secrets_tenant_kind_idx").on(t.tenantId, t.kind, t.createdAt),
    foreignKey({
      name: "tenant_secrets_data_key_fk",
      columns: [t.tenantId, t.dataKeyId],
      foreignColumns: [tenantDataKeys.tenantId, tenantDataKeys.id],
    }),
    check("tenant_secrets_kind_check", sql`${t.kind} in ('webhook_signing', 'tool_signing', 'twilio', 'generic')`),
  ],
);

// Decryptions of tenant secrets, counted per minute, secret and purpose; the first of each minute also writes an
// audit_log entry (`secret.decrypt`), so the audit trail names every minute a secret was used without one row per use.
export const secretDecryptions = pgTable(
  "secret_decryptions",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => accounts.id),
    secretId: text("secret_id").notNull(),
    minute: ts("minute").notNull(),
    purpose: text("purpose").notNull(),
    count: integer("count").notNull().default(1),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.secretId, t.minute, t.purpose] })],
);
