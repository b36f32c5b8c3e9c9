// One NumberRouteCache per dialled number (named by E.164): the number → tenant → published agent version answer an
// inbound call needs, kept here so that answering a call never waits on Postgres. Filled from Postgres on a miss,
// overwritten by the API whenever it changes something a route depends on (read-your-writes: the object is the
// single writer of its entry, so a call after the API's 2xx sees the change), and used as is while the database
// cannot be reached. An EU tenant's entry lives in the EU jurisdiction (it holds the agent's prompt); a webhook,
// which knows only the number, asks each jurisdiction (telephony/route-lookup.ts).
import { Server } from "partyserver";
import type { CallControlEnv } from "../../call-control-env.ts";
import type { NumberRoute } from "../../telephony/number-routes.ts";
import type { CachedRoute } from "./freshness.ts";

// A forgotten number keeps a tombstone (route null) with its time, so a refresh that read the database before the
// number was removed cannot bring it back.
type Entry = CachedRoute<NumberRoute | null>;

export class NumberRouteCache extends Server<CallControlEnv> {
  async read(): Promise<CachedRoute<NumberRoute> | undefined> {
    const entry = this.ctx.storage.kv.get<Entry>("route");
    return entry?.route ? { route: entry.route, checkedAt: entry.checkedAt } : undefined;
  }

  /**
   * Stores `route` as confirmed by the database at `checkedAt`. An older confirmation than the stored one is
   * ignored, so a slow background refresh cannot undo the API's newer write.
   */
  async store(route: NumberRoute, checkedAt: number): Promise<void> {
    const current = this.ctx.storage.kv.get<Entry>("route");
    if (current && current.checkedAt > checkedAt) return;
    this.ctx.storage.kv.put("route", { route, checkedAt } satisfies Entry);
  }

  /** The number is no longer routed (deleted, or moved to another jurisdiction's tenant). */
  async forget(checkedAt: number): Promise<void> {
    const current = this.ctx.storage.kv.get<Entry>("route");
    if (current && current.checkedAt > checkedAt) return;
    this.ctx.storage.kv.put("route", { route: null, checkedAt } satisfies Entry);
  }
}
