import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env.ts";
import { tenantNumbers } from "../telephony/number-routes.ts";
import { refreshTenantRoutes } from "../telephony/route-lookup.ts";

/**
 * Keeps the inbound-call route cache (NumberRouteCache) in step with the API: after a successful write that can
 * change a route (numbers, agents, the account), every number of the tenant is re-read from its home database and
 * cached, and numbers the tenant had before the write but not after are forgotten. Runs before the response, so a
 * call placed after the API's 2xx already takes the new route. A failed refresh is logged and the cache's freshness
 * bound (do/number-route-cache/freshness.ts) repairs it.
 *
 * Goes after `authorize()` and before `unitOfWork()`, so the re-read happens after the write committed.
 *
 * @example middleware: [authorize("numbers:write"), refreshNumberRoutes(), unitOfWork()]
 */
export const refreshNumberRoutes = (): MiddlewareHandler<AppEnv> =>
  async function refreshNumberRoutes(c, next) {
    const { tenantId } = c.var.auth;
    const before = await tenantNumbers(c.var.db, tenantId);
    await next();
    if (c.error || c.res.status >= 400) return;
    try {
      await refreshTenantRoutes(c.env, c.var.db, tenantId, before);
    } catch (error) {
      console.warn("number route cache refresh failed", { tenantId, error: String(error) });
    }
  };
