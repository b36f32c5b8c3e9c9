import { z } from "@hono/zod-openapi";
import type { apiKeys } from "../../db/schema.ts";
import { resourceId } from "../../lib/ids.ts";
import { iso, isoOrNull, Timestamp } from "../../lib/schemas.ts";
import { ALL_SCOPES, SCOPES } from "../../lib/scopes.ts";

export const ScopeSchema = z.enum([...SCOPES, ALL_SCOPES]).openapi("Scope");

export const ApiKeySchema = z
  .object({
    id: resourceId("key"),
    name: z.string(),
    prefix: z.string().openapi({ description: "The start of the key, to tell keys apart; the rest is never shown." }),
    scopes: z.array(ScopeSchema),
    createdAt: Timestamp,
    lastUsedAt: Timestamp.nullable(),
    revokedAt: Timestamp.nullable(),
  })
  .openapi("ApiKey");
export type ApiKeyOut = z.infer<typeof ApiKeySchema>;

export const NewApiKeySchema = ApiKeySchema.extend({
  key: z.string().openapi({ description: "The secret key. Shown once, in this response only; store it now." }),
}).openapi("NewApiKey");

export function apiKeyOut(row: typeof apiKeys.$inferSelect): ApiKeyOut {
  return {
    id: row.id as ApiKeyOut["id"],
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes as ApiKeyOut["scopes"],
    createdAt: iso(row.createdAt),
    lastUsedAt: isoOrNull(row.lastUsedAt),
    revokedAt: isoOrNull(row.revokedAt),
  };
}
