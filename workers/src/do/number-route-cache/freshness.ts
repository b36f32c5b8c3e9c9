// How long a cached number route may be used as it is. The cache is refreshed on every change the API makes (a
// number attached or detached, an agent published or deleted, the account's settings), so this bound only matters
// for a change the API did not see or whose refresh failed: while the database answers, no call is served from an
// entry older than ROUTE_FRESH_MS plus the one call that triggers its refresh. While it does not, the last known
// route is used however old it is: a published number keeps answering through a database outage.
export const ROUTE_FRESH_MS = 60_000;

export interface CachedRoute<T> {
  route: T;
  /** When the database last confirmed this route (ms since the epoch). */
  checkedAt: number;
}

/** `fresh`: use it. `stale`: use it and refresh it in the background. `miss`: ask the database. */
export function freshnessOf(entry: CachedRoute<unknown> | undefined, now: number): "fresh" | "stale" | "miss" {
  if (!entry) return "miss";
  return now - entry.checkedAt < ROUTE_FRESH_MS ? "fresh" : "stale";
}
