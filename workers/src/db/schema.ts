// The Postgres data model. Imported by the Worker (queries), by Node code (migrations, tests) and by drizzle-kit,
// so it must stay free of runtime-specific imports.
//
// Distribution rule (Citus, see migrations/*_citus_distribution.sql): every tenant-owned table has `tenant_id`
// leading its primary key, every unique index starts with `tenant_id`, and every foreign key between tenant-owned
// tables carries `tenant_id`, so all rows of one tenant live on one shard and joins never cross shards.
// `accounts` is the tenant root (distributed by its own id); `phone_number_routes` is the only global table
// (a Citus reference table), because inbound calls arrive knowing a number, not a tenant.
import { sql } from "drizzle-orm";
import {
  boolean,
  check,
  foreignKey,
  index,
  integer,
  jsonb,
  type PgTableExtraConfigValue,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import type { AgentRuntimeConfig, ModelPolicy, ToolDefinition } from "../../../shared/agent-config.ts";
import type { SpokenLine } from "../../../shared/session-events.ts";

// Millisecond precision, so a timestamp read back into a JS Date and sent out in a pagination cursor compares
// equal to the stored value (Postgres' default microseconds would make the cursor skip or repeat rows).
const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: "date" });
const createdAt = () => ts("created_at").notNull().defaultNow();

export const JURISDICTIONS = ["us", "eu"] as const;
export type Jurisdiction = (typeof JURISDICTIONS)[number];

export const accounts = pgTable(
  "accounts",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    jurisdiction: text("jurisdiction").notNull().$type<Jurisdiction>(),
    // Named plan; its limits live in code (workers/src/do/tenant-limiter/plans.ts), unknown names get free.
    plan: text("plan").notNull().default("free"),
    // Verified later by SMS; stored as given (E.164) until then.
    ownerPhone: text("owner_phone"),
    // Permitted outbound calling hours in the callee's local time, minutes after midnight, [start, end).
    // Null means the platform default (8:00 to 21:00).
    callingWindowStartMinute: integer("calling_window_start_minute"),
    callingWindowEndMinute: integer("calling_window_end_minute"),
    createdAt: createdAt(),
  },
  (t) => [
    check("accounts_jurisdiction_check", sql`${t.jurisdiction} in ('us', 'eu')`),
    check(
      "accounts_calling_window_check",
      sql`(${t.callingWindowStartMinute} is null and ${t.callingWindowEndMinute} is null) or (${t.callingWindowStartMinute} >= 0 and ${t.callingWindowStartMinute} < ${t.callingWindowEndMinute} and ${t.callingWindowEndMinute} <= 1440)`,
    ),
  ],
);

export const USER_ROLES = ["owner", "admin", "member"] as const;
export type UserRole = (typeof USER_ROLES)[number];

export const users = pgTable(
  "users",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => accounts.id),
    id: text("id").notNull(),
    email: text("email").notNull(),
    name: text("name"),
    role: text("role").notNull().$type<UserRole>(),
    // Console sign-in: `pbkdf2-sha256$<iterations>$<salt b64url>$<hash b64url>` (workers/src/console/auth/password.ts);
    // null for a user who has no password yet (cannot sign in).
    passwordHash: text("password_hash"),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    uniqueIndex("users_tenant_email_key").on(t.tenantId, t.email),
    check("users_role_check", sql`${t.role} in ('owner', 'admin', 'member')`),
  ],
);

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

export const agents = pgTable(
  "agents",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => accounts.id),
    id: text("id").notNull(),
    name: text("name").notNull(),
    latestVersion: integer("latest_version").notNull(),
    publishedVersionId: text("published_version_id"),
    createdAt: createdAt(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
    // Soft delete: calls and numbers keep pointing at the agent and its versions after it is gone from the API.
    deletedAt: ts("deleted_at"),
  },
  // The return type is spelled out because agents and agent_versions reference each other (TS cannot infer a cycle).
  (t): PgTableExtraConfigValue[] => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    index("agents_tenant_created_idx").on(t.tenantId, t.createdAt, t.id),
    foreignKey({
      name: "agents_published_version_fk",
      columns: [t.tenantId, t.publishedVersionId],
      foreignColumns: [agentVersions.tenantId, agentVersions.id],
    }),
  ],
);

/** The rest of an agent version's runtime settings (shared/agent-config.ts), kept as one JSON value. */
export type AgentSettings = Omit<
  AgentRuntimeConfig,
  | "tenantId"
  | "agentId"
  | "version"
  | "systemPrompt"
  | "firstMessage"
  | "voice"
  | "language"
  | "modelPolicy"
  | "tools"
  | "thinkingBudgetTokens"
>;

// Immutable: a database trigger rejects UPDATE (migrations/0001_*), so a call can always be replayed against the
// exact prompt it ran with.
export const agentVersions = pgTable(
  "agent_versions",
  {
    tenantId: text("tenant_id").notNull(),
    id: text("id").notNull(),
    agentId: text("agent_id").notNull(),
    version: integer("version").notNull(),
    name: text("name").notNull(),
    systemPrompt: text("system_prompt").notNull(),
    firstMessage: text("first_message"),
    voice: text("voice").notNull(),
    language: text("language").notNull(),
    modelPolicy: jsonb("model_policy").notNull().$type<ModelPolicy>(),
    // Tools the model may call, each with a JSON Schema for its input.
    tools: jsonb("tools").notNull().$type<ToolDefinition[]>(),
    // Extended-thinking budget in tokens; 0 turns thinking off.
    thinkingBudgetTokens: integer("thinking_budget_tokens").notNull().default(0),
    settings: jsonb("settings").notNull().$type<AgentSettings>(),
    createdByKeyId: text("created_by_key_id"),
    createdAt: createdAt(),
  },
  (t): PgTableExtraConfigValue[] => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    uniqueIndex("agent_versions_tenant_agent_version_key").on(t.tenantId, t.agentId, t.version),
    foreignKey({
      name: "agent_versions_agent_fk",
      columns: [t.tenantId, t.agentId],
      foreignColumns: [agents.tenantId, agents.id],
    }),
  ],
);

export const TELEPHONY_PROVIDERS = ["twilio", "telnyx"] as const;
export type TelephonyProvider = (typeof TELEPHONY_PROVIDERS)[number];

export const phoneNumbers = pgTable(
  "phone_numbers",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => accounts.id),
    id: text("id").notNull(),
    e164: text("e164").notNull(),
    provider: text("provider").notNull().$type<TelephonyProvider>(),
    agentId: text("agent_id"),
    createdAt: createdAt(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    uniqueIndex("phone_numbers_tenant_e164_key").on(t.tenantId, t.e164),
    index("phone_numbers_tenant_created_idx").on(t.tenantId, t.createdAt, t.id),
    foreignKey({
      name: "phone_numbers_agent_fk",
      columns: [t.tenantId, t.agentId],
      foreignColumns: [agents.tenantId, agents.id],
    }),
    check("phone_numbers_provider_check", sql`${t.provider} in ('twilio', 'telnyx')`),
  ],
);

// Global directory number → tenant: inbound routing looks a number up before it knows the tenant, and a number
// can belong to one tenant only. Not tenant-owned, so no tenant_id-leading key; a Citus reference table.
export const phoneNumberRoutes = pgTable("phone_number_routes", {
  e164: text("e164").primaryKey(),
  tenantId: text("tenant_id").notNull(),
  phoneNumberId: text("phone_number_id").notNull(),
});

// `web`: a browser call (POST /v1/web-calls), from the console or a tenant's own site.
export const CALL_DIRECTIONS = ["inbound", "outbound", "web"] as const;
export type CallDirection = (typeof CALL_DIRECTIONS)[number];
export const CALL_STATUSES = [
  "queued",
  "ringing",
  "in_progress",
  "completed",
  "busy",
  "no_answer",
  "failed",
  "canceled",
] as const;
export type CallStatus = (typeof CALL_STATUSES)[number];

export const calls = pgTable(
  "calls",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => accounts.id),
    id: text("id").notNull(),
    direction: text("direction").notNull().$type<CallDirection>(),
    fromNumber: text("from_number").notNull(),
    toNumber: text("to_number").notNull(),
    status: text("status").notNull().$type<CallStatus>(),
    region: text("region"),
    agentId: text("agent_id"),
    agentVersionId: text("agent_version_id"),
    provider: text("provider").$type<TelephonyProvider>(),
    providerCallSid: text("provider_call_sid"),
    createdAt: createdAt(),
    answeredAt: ts("answered_at"),
    endedAt: ts("ended_at"),
    endReason: text("end_reason"),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    index("calls_tenant_created_idx").on(t.tenantId, t.createdAt, t.id),
    index("calls_tenant_provider_sid_idx").on(t.tenantId, t.providerCallSid),
    foreignKey({
      name: "calls_agent_fk",
      columns: [t.tenantId, t.agentId],
      foreignColumns: [agents.tenantId, agents.id],
    }),
    foreignKey({
      name: "calls_agent_version_fk",
      columns: [t.tenantId, t.agentVersionId],
      foreignColumns: [agentVersions.tenantId, agentVersions.id],
    }),
    check("calls_direction_check", sql`${t.direction} in ('inbound', 'outbound', 'web')`),
  ],
);

export const SPEAKERS = ["caller", "agent"] as const;
export type Speaker = (typeof SPEAKERS)[number];

// One row per speaker per exchange: the media node reports an exchange (caller words, agent reply, waterfall) as
// one turn event with an index; it becomes a caller row and an agent row with that index. The unique key
// (call, turn_index, speaker) makes the edge's at-least-once outbox delivery idempotent (ON CONFLICT DO NOTHING).
export const callTurns = pgTable(
  "call_turns",
  {
    tenantId: text("tenant_id").notNull(),
    id: text("id").notNull(),
    callId: text("call_id").notNull(),
    // 0 is the agent's greeting; exchanges count from 1.
    turnIndex: integer("turn_index").notNull(),
    speaker: text("speaker").notNull().$type<Speaker>(),
    text: text("text").notNull(),
    // The agent was cut off by the caller; `text` then holds only what the caller actually heard.
    interrupted: boolean("interrupted").notNull().default(false),
    createdAt: createdAt(),
    // Latency waterfall of an agent turn, as the media node measured it (null for stages that did not happen).
    callerSpeechEndedAt: ts("caller_speech_ended_at"),
    sttFinalAt: ts("stt_final_at"),
    // The turn was decided and the model asked (so STT final → here is turn detection).
    llmRequestAt: ts("llm_request_at"),
    llmFirstTokenAt: ts("llm_first_token_at"),
    ttsFirstByteAt: ts("tts_first_byte_at"),
    firstAudioOutAt: ts("first_audio_out_at"),
    // Time on the critical path spent in our own code (queues, chunking, pacing), not waiting on a provider.
    platformOverheadMs: integer("platform_overhead_ms"),
    inputTokens: integer("input_tokens"),
    outputTokens: integer("output_tokens"),
    cacheReadTokens: integer("cache_read_tokens"),
    cacheWriteTokens: integer("cache_write_tokens"),
    modelId: text("model_id"),
    // The tools the agent ran in this turn (name, ok, ms), as the media node reported them; null on caller rows.
    tools: jsonb("tools").$type<{ id: string; name: string; ok: boolean; ms: number }[]>(),
    // The platform's own lines spoken in this turn (acknowledgement, filler, apology, goodbye), in the order spoken;
    // null on caller rows and on turns that had none. `text` holds the model's words (or these lines when it gave none).
    lines: jsonb("lines").$type<SpokenLine[]>(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    uniqueIndex("call_turns_tenant_call_turn_speaker_key").on(t.tenantId, t.callId, t.turnIndex, t.speaker),
    foreignKey({
      name: "call_turns_call_fk",
      columns: [t.tenantId, t.callId],
      foreignColumns: [calls.tenantId, calls.id],
    }),
    check("call_turns_speaker_check", sql`${t.speaker} in ('caller', 'agent')`),
  ],
);

export const ANALYSIS_STATUSES = ["completed", "failed"] as const;
export type AnalysisStatus = (typeof ANALYSIS_STATUSES)[number];

// Post-call analysis (issue 13): one row per call, written by the analysis queue consumer. `data` is stored only
// when it satisfied the agent's schema; otherwise it stays null and `data_errors` says why it was refused.
export const callAnalyses = pgTable(
  "call_analyses",
  {
    tenantId: text("tenant_id").notNull(),
    callId: text("call_id").notNull(),
    status: text("status").notNull().$type<AnalysisStatus>(),
    summary: text("summary"),
    successPass: boolean("success_pass"),
    successReason: text("success_reason"),
    data: jsonb("data").$type<Record<string, unknown>>(),
    dataErrors: jsonb("data_errors").$type<string[]>(),
    error: text("error"),
    modelId: text("model_id"),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.callId] }),
    foreignKey({
      name: "call_analyses_call_fk",
      columns: [t.tenantId, t.callId],
      foreignColumns: [calls.tenantId, calls.id],
    }),
    check("call_analyses_status_check", sql`${t.status} in ('completed', 'failed')`),
  ],
);

// What a call used, for pricing (workers/src/cost/). One row per (call, source, meter, variant, speculative), where
// the source is what reported it (`call`, `turn:<n>`, `analysis`): a redelivered report overwrites its own row
// instead of adding to it, so at-least-once delivery never double-bills. Quantities are in the meter's unit
// (minutes, seconds, tokens, characters); the variant is the model ID for token meters, else the product
// (`twilio/inbound`, `deepgram/nova-3`).
export const callUsage = pgTable(
  "call_usage",
  {
    tenantId: text("tenant_id").notNull(),
    callId: text("call_id").notNull(),
    source: text("source").notNull(),
    meter: text("meter").notNull(),
    variant: text("variant").notNull(),
    speculative: boolean("speculative").notNull().default(false),
    quantity: integer("quantity").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.callId, t.source, t.meter, t.variant, t.speculative] }),
    foreignKey({
      name: "call_usage_call_fk",
      columns: [t.tenantId, t.callId],
      foreignColumns: [calls.tenantId, calls.id],
    }),
  ],
);

export const CONSENT_TYPES = ["marketing", "service", "emergency"] as const;
export type ConsentType = (typeof CONSENT_TYPES)[number];
export const CONSENT_METHODS = ["checkbox", "sms", "voice"] as const;
export type ConsentMethod = (typeof CONSENT_METHODS)[number];
// `pending` is for SMS double opt-in (a later issue): recorded, not yet confirmed, so not usable for calling.
export const CONSENT_STATUSES = ["pending", "active", "revoked"] as const;
export type ConsentStatus = (typeof CONSENT_STATUSES)[number];

export const consentRecords = pgTable(
  "consent_records",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => accounts.id),
    id: text("id").notNull(),
    phoneNumber: text("phone_number").notNull(),
    type: text("type").notNull().$type<ConsentType>(),
    status: text("status").notNull().$type<ConsentStatus>(),
    verificationMethod: text("verification_method").notNull().$type<ConsentMethod>(),
    optedInAt: ts("opted_in_at"),
    expiresAt: ts("expires_at"),
    ipAddress: text("ip_address"),
    userAgent: text("user_agent"),
    revokedAt: ts("revoked_at"),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    index("consent_records_tenant_phone_idx").on(t.tenantId, t.phoneNumber, t.type),
    index("consent_records_tenant_created_idx").on(t.tenantId, t.createdAt, t.id),
    check("consent_records_type_check", sql`${t.type} in ('marketing', 'service', 'emergency')`),
    check("consent_records_status_check", sql`${t.status} in ('pending', 'active', 'revoked')`),
    check("consent_records_method_check", sql`${t.verificationMethod} in ('checkbox', 'sms', 'voice')`),
  ],
);

export const ACTOR_TYPES = ["api_key", "user", "system"] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];

// Append-only: a trigger rejects UPDATE and DELETE (migrations/0001_*).
export const auditLog = pgTable(
  "audit_log",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => accounts.id),
    id: text("id").notNull(),
    at: ts("at").notNull().defaultNow(),
    actorType: text("actor_type").notNull().$type<ActorType>(),
    actorId: text("actor_id"),
    // `<resource>.<verb>`, e.g. `agent.update`.
    action: text("action").notNull(),
    targetType: text("target_type").notNull(),
    targetId: text("target_id").notNull(),
    // For versioned resources: the version that was current before and after the change.
    beforeId: text("before_id"),
    afterId: text("after_id"),
    requestId: text("request_id"),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] }), index("audit_log_tenant_at_idx").on(t.tenantId, t.at, t.id)],
);

// Stored responses for `Idempotency-Key` retries. The fingerprint (method, path, body hash) detects a key reused
// for a different request. The row is claimed (status null) at the start of the request's transaction, so a
// concurrent retry waits on the primary key instead of running the write twice.
export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => accounts.id),
    key: text("key").notNull(),
    fingerprint: text("fingerprint").notNull(),
    status: integer("status"),
    responseBody: text("response_body"),
    responseHeaders: jsonb("response_headers").$type<Record<string, string>>(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.key] })],
);

// Compiled prompt prefixes (shared/prompt-prefix.ts), content-addressed by their SHA-256 and scoped to the tenant:
// written when a version is published, read by media nodes by hash. Rows never change (same hash, same bytes).
export const promptPrefixes = pgTable(
  "prompt_prefixes",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => accounts.id),
    hash: text("hash").notNull(),
    system: text("system").notNull(),
    tools: jsonb("tools")
      .notNull()
      .$type<{ name: string; description: string; inputSchema: Record<string, unknown> }[]>(),
    // The exact bytes the hash covers.
    canonical: text("canonical").notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.hash] }),
    check("prompt_prefixes_hash_check", sql`${t.hash} ~ '^[0-9a-f]{64}$'`),
  ],
);

export const VERIFICATION_STATUSES = ["pending", "verified", "locked", "expired"] as const;
export type VerificationStatus = (typeof VERIFICATION_STATUSES)[number];

// Support-call identity checks: a one-time code sent by SMS to an account owner's phone, read back by the caller.
// Owned by the tenant running the support line; `account_id` is the account whose owner is being verified (it may
// live in another tenant's shard or jurisdiction, so it is not a foreign key). Only a keyed hash of the code is kept.
export const verifications = pgTable(
  "verifications",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => accounts.id),
    id: text("id").notNull(),
    accountId: text("account_id").notNull(),
    // Where the code went, masked (+1••••••0123): enough for support to confirm, not enough to learn the number.
    phoneMasked: text("phone_masked").notNull(),
    codeHash: text("code_hash").notNull(),
    salt: text("salt").notNull(),
    status: text("status").notNull().$type<VerificationStatus>(),
    attempts: integer("attempts").notNull().default(0),
    expiresAt: ts("expires_at").notNull(),
    resolvedAt: ts("resolved_at"),
    requestedByKeyId: text("requested_by_key_id"),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    check("verifications_status_check", sql`${t.status} in ('pending', 'verified', 'locked', 'expired')`),
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

// Event webhooks (workers/src/events/): the tenant's endpoints, each event once, one delivery per (endpoint, event)
// and every attempt of it.
export const webhookEndpoints = pgTable(
  "webhook_endpoints",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => accounts.id),
    id: text("id").notNull(),
    url: text("url").notNull(),
    description: text("description"),
    // Event types it wants; empty means every type.
    events: text("events").array().notNull(),
    secretId: text("secret_id").notNull(),
    // After a rotation the old secret signs beside the new one until it expires (tenant_secrets.expires_at).
    previousSecretId: text("previous_secret_id"),
    enabled: boolean("enabled").notNull().default(true),
    disabledAt: ts("disabled_at"),
    disabledReason: text("disabled_reason"),
    // Start of the current run of failed attempts (null after a success).
    failingSince: ts("failing_since"),
    createdAt: createdAt(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    index("webhook_endpoints_tenant_created_idx").on(t.tenantId, t.createdAt, t.id),
  ],
);

export const webhookEvents = pgTable(
  "webhook_events",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => accounts.id),
    // The Standard Webhooks `webhook-id`: the same on every attempt, so receivers can drop duplicates.
    id: text("id").notNull(),
    type: text("type").notNull(),
    // The exact body every attempt sends.
    body: text("body").notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] })],
);

export const DELIVERY_STATUSES = ["pending", "succeeded", "failed"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => accounts.id),
    id: text("id").notNull(),
    endpointId: text("endpoint_id").notNull(),
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    status: text("status").notNull().$type<DeliveryStatus>(),
    attempts: integer("attempts").notNull().default(0),
    lastAttemptAt: ts("last_attempt_at"),
    nextAttemptAt: ts("next_attempt_at"),
    // Dead-lettered: every attempt of the retry schedule failed.
    failedAt: ts("failed_at"),
    succeededAt: ts("succeeded_at"),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    uniqueIndex("webhook_deliveries_tenant_endpoint_event_key").on(t.tenantId, t.endpointId, t.eventId),
    index("webhook_deliveries_tenant_endpoint_created_idx").on(t.tenantId, t.endpointId, t.createdAt, t.id),
    foreignKey({
      name: "webhook_deliveries_endpoint_fk",
      columns: [t.tenantId, t.endpointId],
      foreignColumns: [webhookEndpoints.tenantId, webhookEndpoints.id],
    }).onDelete("cascade"),
    foreignKey({
      name: "webhook_deliveries_event_fk",
      columns: [t.tenantId, t.eventId],
      foreignColumns: [webhookEvents.tenantId, webhookEvents.id],
    }),
    check("webhook_deliveries_status_check", sql`${t.status} in ('pending', 'succeeded', 'failed')`),
  ],
);

export const webhookAttempts = pgTable(
  "webhook_attempts",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => accounts.id),
    id: text("id").notNull(),
    deliveryId: text("delivery_id").notNull(),
    attempt: integer("attempt").notNull(),
    at: ts("at").notNull().defaultNow(),
    // HTTP status, or null when no response came (timeout, refused connection).
    statusCode: integer("status_code"),
    latencyMs: integer("latency_ms").notNull(),
    error: text("error"),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    index("webhook_attempts_tenant_delivery_idx").on(t.tenantId, t.deliveryId, t.attempt),
    foreignKey({
      name: "webhook_attempts_delivery_fk",
      columns: [t.tenantId, t.deliveryId],
      foreignColumns: [webhookDeliveries.tenantId, webhookDeliveries.id],
    }).onDelete("cascade"),
  ],
);

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
