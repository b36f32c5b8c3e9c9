// Which tenant and agent version answer a dialled number. Numbers are global (a number belongs to one tenant
// anywhere) but each tenant's rows live in its jurisdiction's database, so every database is asked; the
// number's row exists in exactly one of them.
import { and, eq, isNull } from "drizzle-orm";
import { accounts, agents, agentVersions, type Jurisdiction, phoneNumberRoutes, phoneNumbers } from "../db/schema.ts";
import type { Db } from "../db/types.ts";
import type { AgentVersionRow } from "../prefix/runtime-config.ts";

export interface NumberRoute {
  tenantId: string;
  jurisdiction: Jurisdiction;
  plan: string;
  phoneNumberId: string;
  provider: "twilio" | "telnyx";
  /** The agent's published version; undefined when the number has no agent or the agent was never published. */
  version: AgentVersionRow | undefined;
}

/** The route rows the lookups share: number → tenant, plan, jurisdiction and the agent's published version. */
function routeQuery(db: Db) {
  return db
    .select({
      e164: phoneNumberRoutes.e164,
      tenantId: phoneNumberRoutes.tenantId,
      phoneNumberId: phoneNumberRoutes.phoneNumberId,
      provider: phoneNumbers.provider,
      jurisdiction: accounts.jurisdiction,
      plan: accounts.plan,
      version: agentVersions,
    })
    .from(phoneNumberRoutes)
    .innerJoin(
      phoneNumbers,
      and(eq(phoneNumbers.tenantId, phoneNumberRoutes.tenantId), eq(phoneNumbers.id, phoneNumberRoutes.phoneNumberId)),
    )
    .innerJoin(accounts, eq(accounts.id, phoneNumberRoutes.tenantId))
    .leftJoin(
      agents,
      and(eq(agents.tenantId, phoneNumbers.tenantId), eq(agents.id, phoneNumbers.agentId), isNull(agents.deletedAt)),
    )
    .leftJoin(
      agentVersions,
      and(eq(agentVersions.tenantId, agents.tenantId), eq(agentVersions.id, agents.publishedVersionId)),
    );
}

type RouteRow = Awaited<ReturnType<ReturnType<typeof routeQuery>["execute"]>>[number];

function toRoute(row: RouteRow): NumberRoute {
  return {
    tenantId: row.tenantId,
    jurisdiction: row.jurisdiction,
    plan: row.plan,
    phoneNumberId: row.phoneNumberId,
    provider: row.provider,
    version: row.version ?? undefined,
  };
}

/** Looks the number up in one database. */
export async function lookupNumberIn(db: Db, e164: string): Promise<NumberRoute | undefined> {
  const [row] = await routeQuery(db).where(eq(phoneNumberRoutes.e164, e164)).limit(1);
  return row ? toRoute(row) : undefined;
}

/** Every routed number of one tenant (in its home database), by E.164: what the route cache is refreshed from. */
export async function lookupTenantRoutes(db: Db, tenantId: string): Promise<Map<string, NumberRoute>> {
  const rows = await routeQuery(db).where(eq(phoneNumberRoutes.tenantId, tenantId));
  return new Map(rows.map((row) => [row.e164, toRoute(row)]));
}

/** The E.164 numbers routed to one tenant right now. */
export async function tenantNumbers(db: Db, tenantId: string): Promise<string[]> {
  const rows = await db
    .select({ e164: phoneNumberRoutes.e164 })
    .from(phoneNumberRoutes)
    .where(eq(phoneNumberRoutes.tenantId, tenantId));
  return rows.map((row) => row.e164);
}

/** Asks every database (in parallel); the first hit wins. A database that fails fails the lookup. */
export async function lookupNumber(dbs: readonly Db[], e164: string): Promise<NumberRoute | undefined> {
  const found = await Promise.all(dbs.map((db) => lookupNumberIn(db, e164)));
  return found.find((route) => route !== undefined);
}
