// The number → tenant → agent version answer of an inbound call, from the NumberRouteCache first and Postgres only
// on a miss (with a deadline), so a call to a published number is answered whether or not the database is. The
// API refreshes the cache after every change a route depends on (middleware/number-route-refresh.ts).
import type { CallControlEnv } from "../call-control-env.ts";
import type { Jurisdiction } from "../db/schema.ts";
import type { Db } from "../db/types.ts";
import { withDeadline } from "../db/unavailable.ts";
import { agentVersionKey } from "../do/agent-version-cache/key.ts";
import { type CachedRoute, freshnessOf } from "../do/number-route-cache/freshness.ts";
import type { AgentVersionRow } from "../prefix/runtime-config.ts";
import { withEveryDatabase } from "../residency/databases.ts";
import { durableObjectJurisdiction, namespaceFor } from "../residency/residency.ts";
import { lookupNumber, lookupTenantRoutes, type NumberRoute } from "./number-routes.ts";

/** A miss asks every database; past this the caller hears the apology instead of Twilio's timeout (15 s). */
export const ROUTE_LOOKUP_DEADLINE_MS = 3_000;

export interface RouteLookup {
  env: CallControlEnv;
  /** The request's database handle, reused for a miss. */
  requestDb?: Db | undefined;
  /** Keeps background work (a stale entry's refresh) alive after the response: `ctx.waitUntil`. */
  defer: (work: Promise<unknown>) => void;
  now?: () => number;
}

/**
 * The route of a dialled number: cached and fresh → no database at all; cached but older than the freshness bound →
 * used, and refreshed in the background; not cached → the databases, within ROUTE_LOOKUP_DEADLINE_MS (a
 * DatabaseUnavailableError past it). Undefined when no tenant has the number.
 */
export async function resolveNumberRoute(lookup: RouteLookup, e164: string): Promise<NumberRoute | undefined> {
  const { env, defer, now = Date.now } = lookup;
  const cached = await readCachedRoute(env, e164);
  switch (freshnessOf(cached, now())) {
    case "fresh":
      return cached?.route;
    case "stale":
      defer(
        refreshNumberRoute(env, undefined, e164, now(), true).catch((error: unknown) =>
          console.warn("number route refresh failed; the cached route stays in use", { e164, error: String(error) }),
        ),
      );
      return cached?.route;
    case "miss":
      return refreshNumberRoute(env, lookup.requestDb, e164, now(), false);
  }
}

/**
 * Reads the number's database row (within the deadline) and caches what it says. An unknown number is not cached
 * (numbers nobody has would otherwise each leave an object behind); a cached one that is gone is forgotten.
 */
async function refreshNumberRoute(
  env: CallControlEnv,
  requestDb: Db | undefined,
  e164: string,
  checkedAt: number,
  cached: boolean,
): Promise<NumberRoute | undefined> {
  const route = await withDeadline(
    withEveryDatabase(env, requestDb, (dbs) => lookupNumber(dbs, e164)),
    ROUTE_LOOKUP_DEADLINE_MS,
    "the number lookup",
  );
  if (route) await cacheRoute(env, e164, route, checkedAt);
  else if (cached) await forgetRoute(env, e164, checkedAt);
  return route;
}

/**
 * Re-reads every route of one tenant after an API change and caches it; numbers in `before` that are no longer the
 * tenant's are forgotten. `db` is the tenant's home database, after the change committed.
 */
export async function refreshTenantRoutes(
  env: CallControlEnv,
  db: Db,
  tenantId: string,
  before: readonly string[],
): Promise<void> {
  const checkedAt = Date.now();
  const routes = await lookupTenantRoutes(db, tenantId);
  const gone = before.filter((e164) => !routes.has(e164));
  await Promise.all([
    ...[...routes].map(([e164, route]) => cacheRoute(env, e164, route, checkedAt)),
    ...gone.map((e164) => forgetRoute(env, e164, checkedAt)),
  ]);
}

/** The cache's namespaces a number may be in: its tenant's jurisdiction is not known before the lookup. */
function jurisdictions(env: CallControlEnv): Jurisdiction[] {
  return durableObjectJurisdiction(env, "eu") ? ["eu", "us"] : ["us"];
}

function cacheOf(env: CallControlEnv, jurisdiction: Jurisdiction, e164: string) {
  return namespaceFor(env.NUMBER_ROUTE_CACHE, env, jurisdiction).getByName(e164);
}

export async function readCachedRoute(
  env: CallControlEnv,
  e164: string,
): Promise<CachedRoute<NumberRoute> | undefined> {
  const entries: (CachedRoute<NumberRoute> | undefined)[] = await Promise.all(
    jurisdictions(env).map(async (j) => (await cacheOf(env, j, e164).read()) as CachedRoute<NumberRoute> | undefined),
  );
  // A number belongs to one tenant; if a move left two entries, the newer confirmation wins.
  let best: CachedRoute<NumberRoute> | undefined;
  for (const entry of entries) if (entry && (!best || entry.checkedAt > best.checkedAt)) best = entry;
  return best;
}

async function cacheRoute(env: CallControlEnv, e164: string, route: NumberRoute, checkedAt: number): Promise<void> {
  const { version } = route;
  await Promise.all([
    // The media node that gets this number's next call fetches the version's prefix: keep it reachable too.
    ...(version
      ? [namespaceFor(env.AGENT_VERSION_CACHE, env, route.jurisdiction).getByName(versionKey(version)).store(version)]
      : []),
    ...jurisdictions(env).map((j) =>
      j === route.jurisdiction || !durableObjectJurisdiction(env, "eu")
        ? cacheOf(env, j, e164).store(route, checkedAt)
        : cacheOf(env, j, e164).forget(checkedAt),
    ),
  ]);
}

const versionKey = (row: AgentVersionRow) => agentVersionKey(row.tenantId, row.agentId, row.version);

/** An agent version the route cache has seen, from whichever jurisdiction holds it; for media nodes in an outage. */
export async function readCachedVersion(
  env: CallControlEnv,
  tenantId: string,
  agentId: string,
  version: number,
): Promise<AgentVersionRow | undefined> {
  const key = agentVersionKey(tenantId, agentId, version);
  const rows = await Promise.all(
    jurisdictions(env).map(
      async (j) =>
        (await namespaceFor(env.AGENT_VERSION_CACHE, env, j).getByName(key).read()) as AgentVersionRow | undefined,
    ),
  );
  return rows.find((row) => row !== undefined);
}

async function forgetRoute(env: CallControlEnv, e164: string, checkedAt: number): Promise<void> {
  await Promise.all(jurisdictions(env).map((j) => cacheOf(env, j, e164).forget(checkedAt)));
}
