// Who may act for a tenant: API keys, console sessions and failed sign-ins, publishable keys for browser calls.
import { foreignKey, index, pgTable, primaryKey, text, uniqueIndex } from "drizzle-orm/pg-core";
import { accounts, users } from "./accounts.ts";
import { agents } from "./agents.ts";
import { createdAt, ts } from "./columns.ts";

export const apiKeys = pgTable(
  "api_keys",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => accounts.id),
    id: text("id").notNull(),
    name: text("name").notNull(),
    // The first characters of the secret key, safe to show in listings so a person can tell keys apart.
    prefix: text("prefix").notNull(),
    // Hex SHA-256 of the whole key. Keys are 256-bit random, so a fast hash is enough (nothing to brute-force).
    keyHash: text("key_hash").notNull(),
    scopes: text("scopes").array().notNull(),
    createdByUserId: text("created_by_user_id"),
    createdByKeyId: text("created_by_key_id"),
    lastUsedAt: ts("last_used_at"),
    revokedAt: ts("revoked_at"),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    uniqueIndex("api_keys_tenant_hash_key").on(t.tenantId, t.keyHash),
    foreignKey({
      name: "api_keys_created_by_user_fk",
      columns: [t.tenantId, t.createdByUserId],
      foreignColumns: [users.tenantId, users.id],
    }),
  ],
);

// Console sign-in sessions: the cookie holds `cs_<account ID>_<64 hex>`, only its SHA-256 is kept, looked up by
// (tenant, hash) like API keys. A session ends at expires_at or when revoked (sign-out, or by the owner).
export const consoleSessions = pgTable(
  "console_sessions",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => accounts.id),
    id: text("id").notNull(),
    userId: text("user_id").notNull(),
    tokenHash: text("token_hash").notNull(),
    expiresAt: ts("expires_at").notNull(),
    revokedAt: ts("revoked_at"),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    uniqueIndex("console_sessions_tenant_hash_key").on(t.tenantId, t.tokenHash),
    foreignKey({
      name: "console_sessions_user_fk",
      columns: [t.tenantId, t.userId],
      foreignColumns: [users.tenantId, users.id],
    }),
  ],
);

// Failed console sign-ins, per e-mail address and per client IP (the key is `email:<address>` or `ip:<address>`),
// counted over a sliding window to slow down password guessing. Global like phone_number_routes: a sign-in
// arrives knowing an e-mail, not a tenant. Rows older than the window are deleted as new ones arrive.
export const signInFailures = pgTable(
  "sign_in_failures",
  {
    key: text("key").notNull(),
    at: ts("at").notNull().defaultNow(),
  },
  (t) => [index("sign_in_failures_key_at_idx").on(t.key, t.at)],
);

// Publishable keys for browser calls from a tenant's own site: public by design (they sit in page source), so
// stored as they are; each is limited to one agent and to the origins listed, and can only start web calls.
export const publishableKeys = pgTable(
  "publishable_keys",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => accounts.id),
    id: text("id").notNull(),
    key: text("key").notNull(),
    agentId: text("agent_id").notNull(),
    allowedOrigins: text("allowed_origins").array().notNull(),
    revokedAt: ts("revoked_at"),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    uniqueIndex("publishable_keys_tenant_key_key").on(t.tenantId, t.key),
    foreignKey({
      name: "publishable_keys_agent_fk",
      columns: [t.tenantId, t.agentId],
      foreignColumns: [agents.tenantId, agents.id],
    }),
  ],
);
