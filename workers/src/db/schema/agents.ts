// Agents, their immutable published versions, and the compiled prompt prefixes media nodes fetch by hash.
import { sql } from "drizzle-orm";
import {
  check,
  foreignKey,
  index,
  integer,
  jsonb,
  type PgTableExtraConfigValue,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import type { AgentRuntimeConfig, ModelPolicy, ToolDefinition } from "../../../../shared/agent-config.ts";
import { accounts } from "./accounts.ts";
import { createdAt, ts } from "./columns.ts";

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
