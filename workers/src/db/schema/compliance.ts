// Consent to be called, and support-call identity checks by SMS code.
import { sql } from "drizzle-orm";
import { check, index, integer, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { accounts } from "./accounts.ts";
import { createdAt, ts } from "./columns.ts";

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
