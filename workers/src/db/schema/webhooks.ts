// Event webhooks to tenants: endpoints, events, deliveries and every attempt.
import { sql } from "drizzle-orm";
import {
  boolean,
  check,
  foreignKey,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import { accounts } from "./accounts.ts";
import { createdAt, ts } from "./columns.ts";

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
