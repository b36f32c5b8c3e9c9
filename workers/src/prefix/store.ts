// Prompt prefixes stored by hash, per tenant. Publishing a version stores its prefix; the media-node endpoint
// reads it back by (tenant, hash). Rows are content-addressed and immutable, so storing is "insert if absent".
import { and, eq } from "drizzle-orm";
import type { PromptPrefix } from "../../../shared/prompt-prefix.ts";
import { agentVersions, promptPrefixes } from "../db/schema.ts";
import type { Db } from "../db/types.ts";
import { compileVersion } from "./runtime-config.ts";

export async function storePromptPrefix(db: Db, tenantId: string, prefix: PromptPrefix): Promise<void> {
  await db
    .insert(promptPrefixes)
    .values({ tenantId, hash: prefix.hash, system: prefix.system, tools: prefix.tools, canonical: prefix.canonical })
    .onConflictDoNothing({ target: [promptPrefixes.tenantId, promptPrefixes.hash] });
}

/** One version of one of the tenant's agents, by its number; undefined if there is none. */
export async function findAgentVersion(
  db: Db,
  tenantId: string,
  agentId: string,
  version: number,
): Promise<typeof agentVersions.$inferSelect | undefined> {
  const [row] = await db
    .select()
    .from(agentVersions)
    .where(
      and(eq(agentVersions.tenantId, tenantId), eq(agentVersions.agentId, agentId), eq(agentVersions.version, version)),
    )
    .limit(1);
  return row;
}

/** Compiles and stores the prefix of a version being published; returns its hash. */
export async function storePublishedPrefix(db: Db, tenantId: string, versionId: string): Promise<string> {
  const [row] = await db
    .select()
    .from(agentVersions)
    .where(and(eq(agentVersions.tenantId, tenantId), eq(agentVersions.id, versionId)));
  if (!row) throw new Error(`agent version ${versionId} not found while publishing`);
  const { prefix } = await compileVersion(row);
  await storePromptPrefix(db, tenantId, prefix);
  return prefix.hash;
}

export async function loadStoredPrefix(db: Db, tenantId: string, hash: string): Promise<PromptPrefix | undefined> {
  const [row] = await db
    .select()
    .from(promptPrefixes)
    .where(and(eq(promptPrefixes.tenantId, tenantId), eq(promptPrefixes.hash, hash)));
  return row ? { hash: row.hash, system: row.system, tools: row.tools, canonical: row.canonical } : undefined;
}
