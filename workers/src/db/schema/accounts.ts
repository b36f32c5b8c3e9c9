// Tenants: accounts (the tenant root, distributed by its own id) and their users.
import { sql } from "drizzle-orm";
import { check, integer, pgTable, primaryKey, text, uniqueIndex } from "drizzle-orm/pg-core";
import { createdAt, type Jurisdiction } from "./columns.ts";

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
