// Phone numbers: a tenant's numbers and the global number → tenant directory inbound calls are routed by.
import { sql } from "drizzle-orm";
import { check, foreignKey, index, pgTable, primaryKey, text, uniqueIndex } from "drizzle-orm/pg-core";
import { accounts } from "./accounts.ts";
import { agents } from "./agents.ts";
import { createdAt, ts } from "./columns.ts";

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
