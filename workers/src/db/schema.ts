// The Postgres data model. Imported by the Worker (queries), by Node code (migrations, tests) and by drizzle-kit,
// so it must stay free of runtime-specific imports.
//
// Distribution rule (Citus, see migrations/*_citus_distribution.sql): every tenant-owned table has `tenant_id`
// leading its primary key, every unique index starts with `tenant_id`, and every foreign key between tenant-owned
// tables carries `tenant_id`, so all rows of one tenant live on one shard and joins never cross shards.
// `accounts` is the tenant root (distributed by its own id); `phone_number_routes` is the only global table
// (a Citus reference table), because inbound calls arrive knowing a number, not a tenant.
//
// One module per feature in schema/; this file gathers them for the Worker, Node code and drizzle-kit
// (drizzle.config.ts), so every table is found from here.
import {
  agents,
  agentVersions,
  apiKeys,
  auditLog,
  callAnalyses,
  calls,
  callTurns,
  callUsage,
  consentRecords,
  consoleSessions,
  idempotencyKeys,
  phoneNumbers,
  promptPrefixes,
  publishableKeys,
  secretDecryptions,
  tenantDataKeys,
  tenantSecrets,
  users,
  verifications,
  webhookAttempts,
  webhookDeliveries,
  webhookEndpoints,
  webhookEvents,
} from "./schema/index.ts";

export * from "./schema/index.ts";

/** Tables whose rows belong to one tenant; the Citus migration distributes exactly these (tested). */
export const tenantOwnedTables = {
  users,
  apiKeys,
  agents,
  agentVersions,
  phoneNumbers,
  calls,
  callTurns,
  callAnalyses,
  callUsage,
  consentRecords,
  auditLog,
  idempotencyKeys,
  promptPrefixes,
  verifications,
  consoleSessions,
  publishableKeys,
  tenantDataKeys,
  tenantSecrets,
  secretDecryptions,
  webhookEndpoints,
  webhookEvents,
  webhookDeliveries,
  webhookAttempts,
} as const;
