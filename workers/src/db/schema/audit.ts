// The append-only audit log, and stored responses for Idempotency-Key retries.
import { index, integer, jsonb, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { accounts } from "./accounts.ts";
import { createdAt, ts } from "./columns.ts";

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
